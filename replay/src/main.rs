//! `replay`: see the crate documentation, or `replay --help`.

use std::process::ExitCode;

use clap::Parser;

// Exports and rebuilds allocate per event; glibc's allocator spent a
// quarter of the time there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = replay::Cli::parse();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let outcome = replay::run(cli, &mut out, replay::Feedback::Terminal).await;
    let flushed = std::io::Write::flush(&mut out);
    match outcome.and_then(|ok| flushed.map(|()| ok).map_err(Into::into)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("replay: {error}");
            ExitCode::FAILURE
        }
    }
}
