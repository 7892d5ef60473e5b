//! `human-escalation {reason?}`: queue the user's conversation for a human
//! (opening one first if there is none), as the other dialects' escalate.

use domain::conversation::{Action, Remark};
use serde_json::{Value, json};

use super::chat::ensure_conversation;
use super::connection::{Conn, message};
use crate::error::WireError;

/// The reason a `human-escalation` gives, if any (no IO).
pub fn decode(request: &Value) -> Result<Option<Remark>, WireError> {
    Ok(match request.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(reason)) => Some(Remark::parse("reason", reason.as_str())?),
        Some(_) => return Err(WireError::validation("\"reason\" must be a string")),
    })
}

pub async fn handle(conn: &mut Conn, request: &Value) -> Result<Vec<Value>, WireError> {
    let reason = decode(request)?;
    let conversation = ensure_conversation(conn).await?;
    conn.state
        .commands
        .on_conversation(
            &conn.origin(),
            "human-escalation",
            &conn.room(&conversation),
            Action::Escalate { reason },
            None,
        )
        .await?;
    Ok(vec![message(
        "human-escalation-response",
        json!({ "message": "A human agent will contact you soon." }),
    )])
}
