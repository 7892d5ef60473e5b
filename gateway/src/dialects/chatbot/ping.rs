//! `ping` → `pong {timestamp}` (also to the ack callback, if any).

use serde_json::json;

use crate::error::WireError;
use crate::socket::Call;
use crate::wire_time;

pub async fn handle(call: &Call) -> Result<(), WireError> {
    call.reply(
        "pong",
        &json!({ "timestamp": wire_time(chrono::Utc::now()) }),
    );
    Ok(())
}
