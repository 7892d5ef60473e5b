//! Handing a command's events back to the code that ran it.
//!
//! cqrs-es's `execute` answers only "done". Where the caller needs what was
//! decided (the sequence number the aggregate gave a swarm step, say), the
//! framework gets a [`Recorder`] as one of its queries: it keeps the events
//! of exactly the commands someone is waiting for, by command id.

use async_trait::async_trait;
use cqrs_es::{Aggregate, CqrsFramework, EventEnvelope, Query};
use domain::{DomainError, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use store::AggregateStore;
use store::aggregate::META_COMMAND_ID;
use uuid::Uuid;

use super::{Origin, run};
use crate::error::WireError;
use crate::state::AppState;

/// Cheap to clone: clones share the waiting list.
pub struct Recorder<A: Aggregate> {
    waiting: Arc<Mutex<HashMap<String, Vec<A::Event>>>>,
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
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<A::Event>>> {
        // The map stays consistent whatever panicked while holding it.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl<A: Aggregate> Query<A> for Recorder<A> {
    async fn dispatch(&self, _aggregate_id: &str, events: &[EventEnvelope<A>]) {
        let mut waiting = self.lock();
        for event in events {
            if let Some(slot) = event
                .metadata
                .get(META_COMMAND_ID)
                .and_then(|id| waiting.get_mut(id))
            {
                slot.push(event.payload.clone());
            }
        }
    }
}

/// A place kept for one command's events; given up when dropped, so a
/// failed command leaves nothing behind.
struct Claim<'a, A: Aggregate> {
    recorder: &'a Recorder<A>,
    command_id: String,
}

impl<A: Aggregate> Claim<'_, A> {
    fn take(self) -> Vec<A::Event> {
        self.recorder
            .lock()
            .remove(&self.command_id)
            .unwrap_or_default()
    }
}

impl<A: Aggregate> Drop for Claim<'_, A> {
    fn drop(&mut self) {
        self.recorder.lock().remove(&self.command_id);
    }
}

/// [`run`], answering with the events the command recorded. `framework`
/// must have `recorder` among its queries. Empty when the command changed
/// nothing.
pub async fn run_recorded<A>(
    state: &AppState,
    framework: &CqrsFramework<A, AggregateStore<A>>,
    recorder: &Recorder<A>,
    origin: &Origin<'_>,
    command: &'static str,
    stream: &str,
    make: impl Fn(Timestamp) -> A::Command,
) -> Result<Vec<A::Event>, WireError>
where
    A: Aggregate<Error = DomainError> + 'static,
{
    let command_id = Uuid::now_v7();
    recorder.lock().insert(command_id.to_string(), Vec::new());
    let claim = Claim {
        recorder,
        command_id: command_id.to_string(),
    };
    run(
        state,
        framework,
        origin,
        command,
        stream,
        Some(command_id),
        make,
    )
    .await?;
    Ok(claim.take())
}
