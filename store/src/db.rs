//! Connecting to SQLite or PostgreSQL and applying the embedded migrations.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Connection, Executor};
use std::path::{Path, PathBuf};
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
    /// Where this database lives: the SQLite file, or the PostgreSQL URL and
    /// schema. Siblings (see [`Db::sibling`]) are placed from it.
    place: Place,
    /// SQLite has one write lock per file. Writers in this process queue
    /// here, in order, instead of colliding on the lock: SQLite's busy
    /// handler would make the losers sleep for milliseconds at a time.
    write_gate: Arc<Mutex<()>>,
}

#[derive(Debug, Clone)]
enum Place {
    Sqlite(PathBuf),
    Postgres { url: String, schema: String },
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
        Self::open(url, postgres_pool, None, true).await
    }

    /// `schema`: PostgreSQL only, the schema every connection works in
    /// (created if missing). `durable`: false for scratch databases that can
    /// be rebuilt (SQLite syncs at checkpoints only; a process crash still
    /// loses nothing, a power cut may lose the last commits).
    async fn open(
        url: &str,
        postgres_pool: u32,
        schema: Option<String>,
        durable: bool,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url, path) = normalize(url)?;
        let options = AnyConnectOptions::from_str(&url)?;
        let (pool, place) = match backend {
            Backend::Sqlite => {
                let pragmas = if durable {
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA busy_timeout = 10000; PRAGMA wal_autocheckpoint = 0;"
                } else {
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000;"
                };
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; FULL
                            // syncs every commit, so an ack survives power loss.
                            // Checkpoints run in the background (see
                            // `checkpoint`), not inside whichever commit
                            // happens to cross the threshold.
                            conn.execute(pragmas).await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                (pool, Place::Sqlite(path.unwrap_or_default()))
            }
            Backend::Postgres => {
                if let Some(schema) = &schema {
                    let mut conn = sqlx::AnyConnection::connect_with(&options).await?;
                    conn.execute(sqlx::AssertSqlSafe(format!(
                        "CREATE SCHEMA IF NOT EXISTS {}",
                        quote_ident(schema)
                    )))
                    .await?;
                    conn.close().await?;
                }
                let search_path = schema
                    .as_deref()
                    .map(|s| format!("SET search_path TO {}", quote_ident(s)));
                let pool = AnyPoolOptions::new()
                    .max_connections(postgres_pool.max(2))
                    .acquire_timeout(Duration::from_secs(10))
                    .after_connect(move |conn, _| {
                        let search_path = search_path.clone();
                        Box::pin(async move {
                            if let Some(sql) = search_path {
                                conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                let schema = match schema {
                    Some(schema) => schema,
                    None => {
                        sqlx::query_scalar("SELECT current_schema()::text")
                            .fetch_one(&pool)
                            .await?
                    }
                };
                (pool, Place::Postgres { url, schema })
            }
        };
        let db = Db {
            pool,
            backend,
            place,
            write_gate: Arc::new(Mutex::new(())),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// A second database beside this one, with the same migrations, named
    /// `name`: the SQLite file `<file>.<name>`, or the PostgreSQL schema
    /// `<schema>_<name>` in the same database, so that one transaction on
    /// this database can read it (see [`Db::sibling_prefix`]). It outlives
    /// the process: a rebuild resumes from it. Not durable against power
    /// loss (it can always be rebuilt).
    pub async fn sibling(&self, name: &str) -> Result<Db, StoreError> {
        match &self.place {
            Place::Sqlite(path) => {
                let file = sibling_file(path, name);
                Self::open(
                    &format!("sqlite://{}", file.display()),
                    DEFAULT_POSTGRES_POOL,
                    None,
                    false,
                )
                .await
            }
            Place::Postgres { url, schema } => {
                Self::open(
                    url,
                    DEFAULT_POSTGRES_POOL,
                    Some(format!("{schema}_{name}")),
                    false,
                )
                .await
            }
        }
    }

    /// Hold the sibling `name` for this process alone until the guard is
    /// dropped: [`StoreError::Busy`] when another holds it (a second
    /// rebuild while one runs). A lock file beside the SQLite database, or
    /// a PostgreSQL advisory lock on a connection of its own.
    pub async fn lock_sibling(&self, name: &str) -> Result<SiblingLock, StoreError> {
        let busy = || StoreError::Busy(format!("another process is working in {name:?}"));
        match &self.place {
            Place::Sqlite(path) => {
                let mut file = sibling_file(path, name).into_os_string();
                file.push(".lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(file)?;
                match file.try_lock() {
                    Ok(()) => Ok(SiblingLock::File(file)),
                    Err(std::fs::TryLockError::WouldBlock) => Err(busy()),
                    Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
                }
            }
            Place::Postgres { schema, .. } => {
                let mut conn = self.pool.acquire().await?.detach();
                let key = lock_key(&format!("parley-sibling:{schema}:{name}"));
                let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                if held {
                    Ok(SiblingLock::Session(Box::new(conn)))
                } else {
                    let _ = conn.close().await;
                    Err(busy())
                }
            }
        }
    }

    /// Remove the sibling `name` and everything in it. Close its pool first.
    pub async fn remove_sibling(&self, name: &str) -> Result<(), StoreError> {
        match &self.place {
            Place::Sqlite(path) => {
                let file = sibling_file(path, name);
                for suffix in ["", "-wal", "-shm"] {
                    let mut part = file.clone().into_os_string();
                    part.push(suffix);
                    match std::fs::remove_file(&part) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                        _ => {}
                    }
                }
                Ok(())
            }
            Place::Postgres { schema, .. } => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {} CASCADE",
                    quote_ident(&format!("{schema}_{name}"))
                )))
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    }

    /// Make the sibling `name` readable on `conn` (a connection of this
    /// database, outside any transaction) and return the prefix that names
    /// its tables there (`rebuild.` or `"public_rebuild".`). The prefix for
    /// this database's own tables is [`Db::own_prefix`].
    pub async fn attach_sibling(
        &self,
        conn: &mut sqlx::AnyConnection,
        name: &str,
    ) -> Result<String, StoreError> {
        match &self.place {
            Place::Sqlite(path) => {
                let file = sibling_file(path, name);
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "ATTACH DATABASE {} AS {}",
                    quote_literal(&file.display().to_string()),
                    quote_ident(name)
                )))
                .execute(&mut *conn)
                .await?;
                Ok(format!("{}.", quote_ident(name)))
            }
            Place::Postgres { schema, .. } => {
                Ok(format!("{}.", quote_ident(&format!("{schema}_{name}"))))
            }
        }
    }

    /// Undo [`Db::attach_sibling`] (outside any transaction).
    pub async fn detach_sibling(
        &self,
        conn: &mut sqlx::AnyConnection,
        name: &str,
    ) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DETACH DATABASE {}",
                quote_ident(name)
            )))
            .execute(conn)
            .await?;
        }
        Ok(())
    }

    /// The prefix that names this database's own tables unambiguously on
    /// one of its connections (`main.` or `"public".`).
    pub fn own_prefix(&self) -> String {
        match &self.place {
            Place::Sqlite(_) => "main.".to_owned(),
            Place::Postgres { schema, .. } => format!("{}.", quote_ident(schema)),
        }
    }

    /// The columns of `table` that can be written (generated columns are
    /// left out), in their defined order.
    pub async fn writable_columns(&self, table: &str) -> Result<Vec<String>, StoreError> {
        let columns: Vec<String> = match &self.place {
            Place::Sqlite(_) => {
                // table_info leaves out generated and hidden columns.
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(&self.pool)
                    .await?
            }
            Place::Postgres { schema, .. } => {
                sqlx::query_scalar(
                    "SELECT column_name::text FROM information_schema.columns \
                     WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' \
                     ORDER BY ordinal_position",
                )
                .bind(schema)
                .bind(table)
                .fetch_all(&self.pool)
                .await?
            }
        };
        if columns.is_empty() {
            return Err(StoreError::Decode(format!("no table named {table:?}")));
        }
        Ok(columns)
    }

    /// The tables of this database (virtual tables' internal ones included).
    pub async fn tables(&self) -> Result<Vec<String>, StoreError> {
        let tables = match &self.place {
            Place::Sqlite(_) => {
                sqlx::query_scalar(
                    "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
                )
                .fetch_all(&self.pool)
                .await?
            }
            Place::Postgres { schema, .. } => {
                sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = $1 ORDER BY table_name",
                )
                .bind(schema)
                .fetch_all(&self.pool)
                .await?
            }
        };
        Ok(tables)
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
fn normalize(url: &str) -> Result<(Backend, String, Option<PathBuf>), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned(), None));
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
    Ok((Backend::Sqlite, url, Some(PathBuf::from(path))))
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

/// See [`Db::lock_sibling`]; released when dropped (the file lock with
/// the file, the advisory lock with its session).
pub enum SiblingLock {
    File(std::fs::File),
    Session(Box<sqlx::AnyConnection>),
}

/// A stable advisory-lock key for `name` (FNV-1a).
pub fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

fn sibling_file(path: &Path, name: &str) -> PathBuf {
    let mut file = path.as_os_str().to_owned();
    file.push(format!(".{name}"));
    PathBuf::from(file)
}

/// `name` as an SQL identifier, quoted (the same rule on both engines).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
        let (backend, url, _) = normalize(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert!(url.ends_with("?mode=rwc"));
        assert!(file.parent().unwrap().is_dir());
        let (backend, url, _) = normalize("postgres://u@h/db").unwrap();
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
