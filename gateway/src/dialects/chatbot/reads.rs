//! What this dialect reads from the read models.

use domain::Room;
use projections::conversation_messages::{self, Cursor, MessageView, Visibility};
use projections::support::{self, SupportQuery, SupportView};

use super::join_conversation::HISTORY;
use crate::error::WireError;
use crate::state::AppState;

/// The latest messages of a conversation (robot suggestions only for
/// staff) and where it stands, once the projections caught up with the
/// caller's writes.
pub async fn started(
    state: &AppState,
    room: &Room,
    visibility: Visibility,
) -> Result<(Vec<MessageView>, Option<SupportView>), WireError> {
    state.read_your_writes(conversation_messages::NAME).await;
    state.read_your_writes(support::NAME).await;
    let db = state.log.db();
    let page = conversation_messages::page(db, room, visibility, &Cursor::Latest, HISTORY).await?;
    let view = support::get(db, &room.tenant, &room.id).await?;
    Ok((page.messages, view))
}

/// A page of the tenant's support conversations, and how many match.
pub async fn list(
    state: &AppState,
    query: &SupportQuery,
) -> Result<(Vec<SupportView>, u64), WireError> {
    state.read_your_writes(support::NAME).await;
    Ok(support::list(state.log.db(), query).await?)
}
