//! `POST /api/v1/swarm/{sessionId}/steps` with the step (a JSON object of at
//! most 64 KiB) as the body → 201 `{sessionId, sequence}`. Staff and
//! `service` callers only; subscribers of the session get it as
//! `swarm:update`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::swarm::{
    SwarmAction, SwarmCommand, SwarmEvent, SwarmSession, SwarmSessionId, SwarmStep,
};
use serde_json::{Value, json};

use super::Caller;
use crate::commands::{Command, Origin};
use crate::error::{ErrorCode, WireError};
use crate::state::AppState;

pub(super) async fn post_step(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), WireError> {
    let session = SwarmSessionId::parse(raw)?;
    let body = body.map_err(|rejection| {
        let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::ValidationError
        };
        WireError::new(code, rejection.body_text())
    })?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        WireError::validation("the body must be the step, a JSON object")
            .with_details(e.to_string())
    })?;
    let step = SwarmStep::parse(value)?;
    let origin = Origin {
        actor: &actor,
        dialect: "http",
        socket_id: None,
    };
    let stream = SwarmSession::stream_id(&actor.tenant, &session);
    let command = Command {
        origin: &origin,
        name: "swarm:step",
        stream: &stream,
        id: None,
        make: |at| SwarmCommand {
            session: session.clone(),
            actor: actor.clone(),
            at,
            action: SwarmAction::RecordStep(step.clone()),
        },
    };
    let commands = &state.commands;
    let events = commands
        .run(&commands.swarm_sessions, command)
        .await?
        .events;
    let Some(SwarmEvent::SwarmStepRecorded(recorded)) = events.first() else {
        // Only a retry that an earlier attempt had already written lands
        // here: the step is stored, but its number is not known.
        return Err(WireError::internal(
            &"a recorded swarm step came back empty",
        ));
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sessionId": session.as_str(),
            "sequence": recorded.sequence,
        })),
    ))
}
