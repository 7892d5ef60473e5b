//! Configuration, from the environment (or the same names as flags).

use clap::Parser;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Parley's gateway: Socket.IO and HTTP on one port.
#[derive(Parser, Clone, Debug)]
#[command(name = "gateway", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PARLEY_ADDR", default_value = "0.0.0.0:3000")]
    pub addr: SocketAddr,

    /// Event store: sqlite://PATH (created on first run) or postgres://…
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/parley.db")]
    pub database_url: String,

    /// HS256 secret for client tokens. Unset: a random one is generated and
    /// demo tokens are printed (development only).
    #[arg(long, env = "PARLEY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// PEM public key file for RS256/ES256 tokens (instead of a secret).
    #[arg(long, env = "PARLEY_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// Algorithm of tokens verified with the public key: RS256 or ES256.
    #[arg(long, env = "PARLEY_JWT_ALGORITHM", default_value = "RS256")]
    pub jwt_algorithm: String,

    /// Required `iss` claim, if set.
    #[arg(long, env = "PARLEY_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim, if set.
    #[arg(long, env = "PARLEY_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Messages per `conversation:rejoin` page (1–500).
    #[arg(long, env = "PARLEY_REJOIN_PAGE_SIZE", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=500))]
    pub rejoin_page_size: u32,

    /// Snapshot an aggregate every this many events (0: never).
    #[arg(long, env = "PARLEY_SNAPSHOT_EVERY", default_value_t = 500)]
    pub snapshot_every: u64,

    /// Aggregates kept loaded in memory.
    #[arg(long, env = "PARLEY_AGGREGATE_CACHE", default_value_t = 10_000)]
    pub aggregate_cache: u64,

    /// Connections to PostgreSQL this process may open (not used by SQLite).
    #[arg(long, env = "PARLEY_DB_POOL_SIZE", default_value_t = store::db::DEFAULT_POSTGRES_POOL,
          value_parser = clap::value_parser!(u32).range(2..))]
    pub db_pool_size: u32,

    /// Events a socket may send per rate-limit window (the seed's 100).
    #[arg(long, env = "PARLEY_RATE_LIMIT_EVENTS", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_events: u32,

    /// Length of the rate-limit window, in seconds (the seed's 60).
    #[arg(long, env = "PARLEY_RATE_LIMIT_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit_window_secs: u64,

    /// Events one user may send per rate-limit window over all their
    /// connections (it survives reconnects).
    #[arg(long, env = "PARLEY_USER_RATE_LIMIT_EVENTS", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub user_rate_limit_events: u32,

    /// Events per rate-limit window for all the clients of one widget or
    /// API key together.
    #[arg(long, env = "PARLEY_KEY_RATE_LIMIT_EVENTS", default_value_t = 3000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub key_rate_limit_events: u32,

    /// Events per rate-limit window from one client address, for clients
    /// of a widget or API key (anonymous visitors).
    #[arg(long, env = "PARLEY_IP_RATE_LIMIT_EVENTS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ip_rate_limit_events: u32,

    /// Users, keys and addresses each budget remembers at most (idle ones
    /// are forgotten after a window).
    #[arg(long, env = "PARLEY_RATE_LIMIT_MAX_KEYS", default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limit_max_keys: u64,

    /// Connections one user may have open at once.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_USER", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_user: u32,

    /// Connections one client address (an IPv6 /64) may have open at once.
    #[arg(long, env = "PARLEY_MAX_CONNECTIONS_PER_IP", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: u32,

    /// Reverse proxies (addresses or networks, comma-separated) whose
    /// `X-Forwarded-For` names the client address.
    #[arg(long, env = "PARLEY_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::limits::parse_trusted)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Seconds without a socket or a heartbeat after which a user is shown
    /// offline.
    #[arg(long, env = "PARLEY_PRESENCE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub presence_timeout_secs: u64,

    /// Seconds without activity after which a support conversation is ended
    /// with reason `timeout` (0: never).
    #[arg(long, env = "PARLEY_IDLE_TIMEOUT_SECS", default_value_t = 1800)]
    pub idle_timeout_secs: u64,

    /// The assistant that answers conversations in AI handling: `on` (the
    /// embedded one, or the LLM endpoint when `PARLEY_LLM_URL` is set) or
    /// `off`.
    #[arg(long, env = "PARLEY_ASSISTANT", default_value = "on",
          value_parser = ["on", "off"])]
    pub assistant: String,

    /// An OpenAI-compatible chat-completions endpoint (base URL, e.g.
    /// `http://127.0.0.1:8080/v1`); unset: the embedded assistant.
    #[arg(long, env = "PARLEY_LLM_URL")]
    pub llm_url: Option<String>,

    /// The model asked at `PARLEY_LLM_URL`.
    #[arg(long, env = "PARLEY_LLM_MODEL")]
    pub llm_model: Option<String>,

    /// Bearer key for `PARLEY_LLM_URL`, if it needs one.
    #[arg(long, env = "PARLEY_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<Secret>,

    /// Seconds an answer may take, question to last token; then the
    /// customer is told and offered a human.
    #[arg(long, env = "PARLEY_ASSISTANT_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub assistant_timeout_secs: u64,

    /// Pause between the embedded assistant's streamed words, in
    /// milliseconds (0: as fast as it writes them).
    #[arg(long, env = "PARLEY_ASSISTANT_TOKEN_DELAY_MS", default_value_t = 0)]
    pub assistant_token_delay_ms: u64,

    /// LiveKit API key: the issuer of the helpdesk's call tokens (calls
    /// are off without it and the secret).
    #[arg(long, env = "PARLEY_LIVEKIT_API_KEY")]
    pub livekit_api_key: Option<String>,

    /// LiveKit API secret that signs the call tokens.
    #[arg(long, env = "PARLEY_LIVEKIT_API_SECRET", hide_env_values = true)]
    pub livekit_api_secret: Option<Secret>,

    /// The LiveKit server's URL, passed on to clients with their token.
    #[arg(long, env = "PARLEY_LIVEKIT_URL")]
    pub livekit_url: Option<String>,
}

impl Config {
    /// Defaults everywhere, on the given database (for tests and tools).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let mut config = Config::parse_from(["gateway"]);
        config.database_url = database_url.into();
        config
    }

    /// Longest a read waits for projections to reflect the newest append.
    pub fn read_your_writes_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }

    pub fn presence_timeout(&self) -> Duration {
        Duration::from_secs(self.presence_timeout_secs)
    }

    pub fn assistant_enabled(&self) -> bool {
        self.assistant == "on"
    }

    pub fn assistant_timeout(&self) -> Duration {
        Duration::from_secs(self.assistant_timeout_secs)
    }

    pub fn assistant_token_delay(&self) -> Duration {
        Duration::from_millis(self.assistant_token_delay_ms)
    }

    /// The idle timeout of support conversations; `None` when off.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_secs > 0).then(|| Duration::from_secs(self.idle_timeout_secs))
    }
}

/// A secret value: usable, never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config = Config::for_database("sqlite://x.db");
        config.jwt_secret = Some(Secret::new("hunter2"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn defaults_match_the_readme() {
        let config = Config::parse_from(["gateway"]);
        assert_eq!(config.addr.to_string(), "0.0.0.0:3000");
        assert_eq!(config.database_url, "sqlite://data/parley.db");
        assert_eq!(config.rejoin_page_size, 100);
        assert_eq!(config.presence_timeout(), Duration::from_secs(60));
        assert_eq!(config.idle_timeout(), Some(Duration::from_secs(1800)));
        assert_eq!(config.user_rate_limit_events, 200);
        assert_eq!(config.max_connections_per_user, 20);
        assert!(config.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_are_a_list_of_addresses_and_networks() {
        let config = Config::parse_from(["gateway", "--trusted-proxies", "10.0.0.0/8,192.0.2.1"]);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(Config::try_parse_from(["gateway", "--trusted-proxies", "proxy"]).is_err());
    }
}
