//! The `gateway` binary: configuration from the environment, a listener,
//! and ctrl-c / SIGTERM as the shutdown signal.

use anyhow::Context;
use clap::Parser;
use gateway::Config;
use std::io::IsTerminal;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr (stdout carries only the demo tokens), coloured
    // only for a terminal.
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let config = Config::parse();
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    gateway::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// `RUST_LOG`, or `info,sqlx=warn`. The Socket.IO layers log handshakes
/// and packets at debug level, credentials (tokens, widget keys) and
/// messages included: they stay at info unless `RUST_LOG` names them.
fn log_filter() -> EnvFilter {
    const DEFAULT: &str = "info,sqlx=warn";
    let mut directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| DEFAULT.to_owned());
    for layer in ["socketioxide", "engineioxide"] {
        if !directives.contains(layer) {
            directives.push_str(&format!(",{layer}=info"));
        }
    }
    EnvFilter::try_new(&directives).unwrap_or_else(|_| {
        EnvFilter::new(format!("{DEFAULT},socketioxide=info,engineioxide=info"))
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
