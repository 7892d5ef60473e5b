//! `enter_customer_support {session_id}`: the socket serves the session and
//! joins its customer's room.

use serde_json::json;

use super::Request;
use crate::error::WireError;

pub async fn enter_customer(req: &Request) -> Result<(), WireError> {
    req.session()?;
    req.answer("Joined customer support room", json!({}));
    Ok(())
}
