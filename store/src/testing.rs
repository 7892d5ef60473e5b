//! A fresh, isolated database per test, on either backend.
//!
//! SQLite: a new file in a temporary folder. PostgreSQL: a new schema in the
//! database named by `PARLEY_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`), selected through the
//! connection's `search_path` and dropped when the test ends. An unreachable
//! PostgreSQL fails the test: the suite never silently skips a backend.

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::Backend;

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_admin_url() -> String {
    std::env::var("PARLEY_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.into())
}

/// A database that exists for as long as this value does.
pub struct TestDatabase {
    backend: Backend,
    url: String,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("parley.db").display());
                Self {
                    backend,
                    url,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let schema = format!("parley_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required by the test suite and is not reachable at {} ({e}); \
                         start it or set PARLEY_TEST_DATABASE_URL",
                        crate::db::redact(&admin)
                    )
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut conn)
                    .await
                    .expect("create a test schema");
                let _ = conn.close().await;
                let separator = if admin.contains('?') { '&' } else { '?' };
                let url = format!("{admin}{separator}options=-c%20search_path%3D{schema}");
                Self {
                    backend,
                    url,
                    _dir: None,
                    schema: Some(schema),
                }
            }
        }
    }

    /// A `DATABASE_URL` for this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop may run inside a runtime that is shutting down, so clean up on
        // a thread of our own with a runtime of its own.
        let admin = postgres_admin_url();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// Generate one `#[tokio::test]` per backend from `async fn name(backend: Backend)`:
/// `both_backends!(my_test);` yields `my_test::sqlite` and `my_test::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await;
                }
            }
        )+
    };
}
