//! `call:transcription {roomName, segment: {speaker, text, isFinal,
//! confidence?}}`: recorded in the call's transcript and sent to everyone in
//! the call (the sender's sockets too) as `transcription:segment`. Only
//! participants of the running call may send it (`FORBIDDEN` otherwise).
//! The ack callback gets `{roomName, timestamp}`.

use domain::call::{CallAction, RoomName, TranscriptSegment};
use serde::Deserialize;
use serde_json::json;

use super::DIALECT;
use super::call_rooms::RoomRef;
use crate::dialect::{Inbound, Request};
use crate::error::WireError;
use crate::wire_time;

#[derive(Deserialize)]
struct Transcription {
    #[serde(flatten)]
    room: RoomRef,
    segment: Segment,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Segment {
    speaker: String,
    text: String,
    is_final: bool,
    confidence: Option<f64>,
}

/// The call room and the segment (no IO).
pub(super) fn decode(input: &Inbound) -> Result<(RoomName, TranscriptSegment), WireError> {
    let request: Transcription = input.parse()?;
    let room = request.room.resolve()?;
    let Segment {
        speaker,
        text,
        is_final,
        confidence,
    } = request.segment;
    let segment = TranscriptSegment::parse(speaker, text, is_final, confidence)?;
    Ok((room, segment))
}

pub async fn handle(req: &Request) -> Result<(), WireError> {
    let (room, segment) = decode(&req.inbound())?;
    req.state
        .commands
        .on_call(
            &req.origin(DIALECT),
            "call:transcription",
            &room,
            CallAction::Transcribe(segment),
        )
        .await?;
    req.answer(&json!({
        "roomName": room.as_str(),
        "timestamp": wire_time(chrono::Utc::now()),
    }));
    Ok(())
}
