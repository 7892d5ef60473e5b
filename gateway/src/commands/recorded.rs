//! Handing a command's events back to the code that ran it.
//!
//! cqrs-es's `execute` answers only "done". Every framework gets a
//! [`Recorder`] as its query: it keeps the events (and their positions) of
//! exactly the commands someone is waiting for, by command id.

use async_trait::async_trait;
use cqrs_es::{Aggregate, EventEnvelope, Query};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use store::Position;
use store::aggregate::{META_COMMAND_ID, META_POSITION};
use uuid::Uuid;

/// The last position of one command's events, and the events (when its
/// caller keeps them).
type Slot<E> = (Option<Position>, Vec<E>);

/// A command someone waits for: whether to copy its events, and what it
/// recorded so far.
type Waiting<E> = (bool, Slot<E>);

/// Cheap to clone: clones share the waiting list.
pub struct Recorder<A: Aggregate> {
    waiting: Arc<Mutex<HashMap<String, Waiting<A::Event>>>>,
}

impl<A: Aggregate> Clone for Recorder<A> {
    fn clone(&self) -> Self {
        Self {
            waiting: self.waiting.clone(),
        }
    }
}

impl<A: Aggregate> Default for Recorder<A> {
    fn default() -> Self {
        Self {
            waiting: Arc::default(),
        }
    }
}

impl<A: Aggregate> Recorder<A> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting<A::Event>>> {
        // The map stays consistent whatever panicked while holding it.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keep the position (and the events, when `events`) of command `id`
    /// from now on, until the claim is taken or dropped.
    pub(super) fn claim(&self, id: Uuid, events: bool) -> Claim<'_, A> {
        let id = id.to_string();
        self.lock().insert(id.clone(), (events, (None, Vec::new())));
        Claim {
            recorder: self,
            command_id: id,
        }
    }
}

#[async_trait]
impl<A: Aggregate> Query<A> for Recorder<A> {
    async fn dispatch(&self, _aggregate_id: &str, events: &[EventEnvelope<A>]) {
        let mut waiting = self.lock();
        for event in events {
            if let Some((events, slot)) = event
                .metadata
                .get(META_COMMAND_ID)
                .and_then(|id| waiting.get_mut(id))
            {
                let position = event.metadata.get(META_POSITION);
                slot.0 = position.and_then(|p| p.parse().ok()).or(slot.0);
                if *events {
                    slot.1.push(event.payload.clone());
                }
            }
        }
    }
}

/// A place kept for one command's events; given up when dropped, so a
/// failed command leaves nothing behind.
pub(super) struct Claim<'a, A: Aggregate> {
    recorder: &'a Recorder<A>,
    command_id: String,
}

impl<A: Aggregate> Claim<'_, A> {
    pub(super) fn take(self) -> Slot<A::Event> {
        self.recorder
            .lock()
            .remove(&self.command_id)
            .map(|(_, slot)| slot)
            .unwrap_or_default()
    }
}

impl<A: Aggregate> Drop for Claim<'_, A> {
    fn drop(&mut self) {
        self.recorder.lock().remove(&self.command_id);
    }
}
