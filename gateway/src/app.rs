//! Start-up, serving, and orderly shutdown.

use axum::serve::ListenerExt;
use domain::actor::{Actor, Role};
use domain::ids::{TenantId, UserId};
use projections::Projector;
use socketioxide::SocketIo;
use std::future::Future;
use std::time::Duration;
use store::EventLog;
use tokio::net::TcpListener;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Authenticator;
use crate::commands::Commands;
use crate::config::Config;
use crate::presence::{PresenceTracker, Reaper};
use crate::socket::{self, MAX_FRAME_BYTES};
use crate::state::{AppState, Inner};
use crate::{GatewayError, dialect, dialects, http};

/// Serve Socket.IO and HTTP on `listener` until `shutdown` completes, then
/// stop accepting, let commands in flight finish, and flush the log.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let (auth, generated) = Authenticator::from_config(&config)?;
    if generated.is_some() {
        tracing::warn!(
            "PARLEY_JWT_SECRET is not set: using a random secret for this run only; \
             set it (32+ bytes) for anything but a demo"
        );
        print_demo_tokens(&auth);
    }
    let db = store::Db::connect_with(&config.database_url, config.db_pool_size).await?;
    let log = EventLog::open(db, Vec::new()).await?;
    tracing::info!(
        store = log.db().backend().name(),
        head = log.head(),
        "event log open"
    );
    let projector = Projector::start(log.clone(), projections::all()).await?;
    let commands = Commands::new(&log, &config);
    let nudges = crate::policies::Nudges::default();
    let assistant = crate::assistant::Assistant::from_config(&config)?;
    let limits = crate::limits::Limits::from_config(&config);
    let state = AppState::new(Inner {
        limits,
        nudges,
        config,
        log,
        commands,
        presence_tracker: PresenceTracker::default(),
        projector,
        auth,
        assistant,
        closing: tokio_util::sync::CancellationToken::new(),
        dialects: dialects::all(),
    });

    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(60))
        .max_payload(MAX_FRAME_BYTES as u64)
        .ws_max_message_size(MAX_FRAME_BYTES)
        .ws_max_frame_size(MAX_FRAME_BYTES)
        .max_buffer_size(1024)
        .with_state(state.clone())
        .build_layer();
    socket::register(&io, &state.dialects);
    let push = tokio::spawn(push_updates(io.clone(), state.clone()));
    let reaper = Reaper::start(state.clone(), std::time::Instant::now());
    let policies = crate::policies::PolicyRunner::start(state.clone());
    let answers = crate::assistant::AssistantRunner::start(state.clone());

    let router = http::router().layer(layer).with_state(state.clone());
    let (closing, cleaning) = (io.clone(), state.clone());
    tracing::info!(addr = %listener.local_addr()?, "serving");
    // Chat frames are small and latency-bound: never let Nagle hold them.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    // The peer address: where a widget visitor connects from.
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: closing connections");
            cleaning.closing.cancel();
            socket::clean_up_all(&closing, &cleaning).await;
            closing.close().await;
        })
        .await?;

    reaper.stop().await;
    policies.stop().await;
    answers.stop().await;
    state.commands.inflight().close();
    state.commands.inflight().wait().await;
    state.log.close().await;
    state.projector.stop().await;
    push.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Render every projection update to the rooms that listen for it.
async fn push_updates(io: SocketIo, state: AppState) {
    let mut updates = state.projector.subscribe();
    loop {
        match updates.recv().await {
            // Once shutdown closed the namespace nobody is left to tell
            // (and socketioxide's room operators would panic).
            Ok(_) if io.of("/").is_none() => break,
            Ok(update) => {
                for push in dialect::render(&state.dialects, &update) {
                    push.send(&io).await;
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "push fell behind; clients recover with conversation:rejoin"
                );
            }
            Err(RecvError::Closed) => break,
        }
    }
}

/// With a generated secret nobody else can mint tokens: print two for a
/// demo tenant, so a newcomer can connect at once.
fn print_demo_tokens(auth: &Authenticator) {
    let demo = |user: &str, role: Role, name: &str| Actor {
        user: UserId::parse(user).expect("a valid demo user id"),
        tenant: TenantId::parse("demo").expect("a valid demo tenant"),
        role,
        name: Some(name.to_owned()),
    };
    let ttl = Duration::from_secs(24 * 3600);
    println!("Demo tokens for tenant \"demo\" (valid 24 hours, for this run only):");
    for (label, actor) in [
        (
            "customer",
            demo("demo-customer", Role::Customer, "Demo Customer"),
        ),
        ("agent   ", demo("demo-agent", Role::Agent, "Demo Agent")),
    ] {
        if let Some(token) = auth.issue(&actor, ttl) {
            println!("  {label} {token}");
        }
    }
}
