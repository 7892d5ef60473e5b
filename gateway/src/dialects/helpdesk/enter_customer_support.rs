//! `enter_customer_support {session_id}`: the socket serves the session and
//! joins its customer's room.

use serde_json::json;

use super::Event;
use crate::error::WireError;

pub async fn enter_customer(event: &Event) -> Result<(), WireError> {
    event.session()?;
    event.answer("Joined customer support room", json!({}));
    Ok(())
}
