//! Connecting to SQLite or PostgreSQL and applying the embedded migrations.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::StoreError;

/// Which engine holds the log. Read models use the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine behind a connection.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A connection pool and the engine behind it. Queries go through sqlx's
/// `Any` driver: the SQL is shared, and only the few places where the engines
/// really differ (write transactions, locks) look at [`Db::backend`].
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one write lock per file. Writers in this process queue
    /// here, in order, instead of colliding on the lock: SQLite's busy
    /// handler would make the losers sleep for milliseconds at a time.
    write_gate: Arc<Mutex<()>>,
}

/// A write transaction; on SQLite it also holds the process's write turn.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Connections to a PostgreSQL server per process, unless configured.
pub const DEFAULT_POSTGRES_POOL: u32 = 16;

impl Db {
    /// Connect to `url` (`sqlite://PATH` or `postgres://…`), creating a SQLite
    /// file and its folder if needed, and apply pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_POSTGRES_POOL).await
    }

    /// As [`Db::connect`], with at most `postgres_pool` connections to a
    /// PostgreSQL server (a SQLite pool is fixed: one writer at a time).
    pub async fn connect_with(url: &str, postgres_pool: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize(url)?;
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; FULL
                            // syncs every commit, so an ack survives power loss.
                            // Checkpoints run in the background (see
                            // `checkpoint`), not inside whichever commit
                            // happens to cross the threshold.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                                 PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(postgres_pool.max(2))
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?
            }
        };
        let db = Db {
            pool,
            backend,
            write_gate: Arc::new(Mutex::new(())),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begin a transaction that will write. On SQLite it first waits for
    /// this process's write turn, then takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
    /// writes later fails with SQLITE_BUSY instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        let turn = self.write_turn().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's turn to write (SQLite only; PostgreSQL locks rows).
    /// Hold it from before `BEGIN` until after `COMMIT`.
    pub async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_gate.clone().lock_owned().await),
            Backend::Postgres => None,
        }
    }

    /// Copy the WAL into the database file as far as readers allow, without
    /// waiting for anyone (SQLite; a no-op on PostgreSQL).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Is the database answering?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Tell the engine from the URL; give SQLite URLs `mode=rwc` (create the file
/// if missing) unless the caller chose a mode, and create the file's folder.
fn normalize(url: &str) -> Result<(Backend, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(StoreError::UnsupportedUrl(redact(url)));
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        // One in-memory database per connection would split the log in pieces.
        return Err(StoreError::UnsupportedUrl(url.to_owned()));
    }
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let url = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((Backend::Sqlite, url))
}

impl Backend {
    /// Placeholders for `count` values bound in order, the `first` being
    /// value number `first`: `$first, $first+1, …` on PostgreSQL; plain `?`
    /// on SQLite, where numbered names are looked up one by one in a list
    /// (quadratic for the hundreds of values of a multi-row INSERT).
    pub fn placeholders(self, first: usize, count: usize) -> String {
        match self {
            Backend::Postgres => (first..first + count)
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", "),
            Backend::Sqlite => vec!["?"; count].join(", "),
        }
    }

    /// `(…), (…), …` for a multi-row INSERT of `rows` rows of `columns`
    /// values each, bound row by row.
    pub fn row_placeholders(self, rows: usize, columns: usize) -> String {
        (0..rows)
            .map(|row| format!("({})", self.placeholders(row * columns + 1, columns)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A URL fit for an error message or a log line: no password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode_and_postgres_urls_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/parley.db");
        let (backend, url) = normalize(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert!(url.ends_with("?mode=rwc"));
        assert!(file.parent().unwrap().is_dir());
        let (backend, url) = normalize("postgres://u@h/db").unwrap();
        assert_eq!(
            (backend, url.as_str()),
            (Backend::Postgres, "postgres://u@h/db")
        );
    }

    #[test]
    fn unsupported_and_in_memory_urls_are_refused() {
        assert!(normalize("mysql://x").is_err());
        assert!(normalize("sqlite::memory:").is_err());
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_and_positional_on_sqlite() {
        assert_eq!(Backend::Postgres.placeholders(1, 3), "$1, $2, $3");
        assert_eq!(Backend::Postgres.placeholders(10, 2), "$10, $11");
        assert_eq!(
            Backend::Postgres.row_placeholders(2, 2),
            "($1, $2), ($3, $4)"
        );
        assert_eq!(Backend::Sqlite.placeholders(10, 2), "?, ?");
        assert_eq!(Backend::Sqlite.row_placeholders(2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/parley"),
            "postgres://app:***@db:5432/parley"
        );
        assert_eq!(
            redact("postgres://app@db/parley"),
            "postgres://app@db/parley"
        );
    }
}
