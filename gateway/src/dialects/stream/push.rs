//! What a stream connection hears of changes: an agent's message in its
//! conversation, as one `stream-start`, one `stream-token` with the whole
//! text and `stream-end`, with `sender: "agent"` and `senderName`.

use domain::ids::{ConversationId, TenantId};
use projections::Update;
use projections::update::Change;
use serde_json::json;

use crate::dialect::{Push, Stamp};

/// Not a Socket.IO namespace: the socket layer sends nothing of it, the
/// connections pick their own pushes.
pub const CHANNEL: &str = "stream";

/// The room a connection follows: its conversation.
pub fn conversation_room(tenant: &TenantId, id: &ConversationId) -> String {
    format!("stream:{tenant}:conversation:{id}")
}

pub fn render(update: &Update, pushes: &mut Vec<Push>) {
    let Change::MessagePosted(m) = &update.change else {
        return;
    };
    if !m.author_role.is_staff() || m.hidden {
        return;
    }
    let room = conversation_room(&m.room.tenant, &m.room.id);
    let who = json!({ "messageId": m.message_id.as_str(), "sender": "agent", "senderName": m.author_name });
    let mut token = who.clone();
    token["token"] = json!(m.content);
    for (event, payload) in [
        ("stream-start", who.clone()),
        ("stream-token", token),
        ("stream-end", who),
    ] {
        pushes.push(Push {
            namespace: CHANNEL,
            rooms: vec![room.clone()],
            except: Vec::new(),
            event,
            payload,
            stamp: Stamp::Same,
        });
    }
}
