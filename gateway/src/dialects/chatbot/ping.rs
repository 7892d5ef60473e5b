//! `ping` → `pong {timestamp}` (also to the ack callback, if any).

use serde_json::json;

use crate::dialect::Request;
use crate::error::WireError;
use crate::wire_time;

pub async fn handle(req: &Request) -> Result<(), WireError> {
    req.reply(
        "pong",
        &json!({ "timestamp": wire_time(chrono::Utc::now()) }),
    );
    Ok(())
}
