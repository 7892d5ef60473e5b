//! Reading old events as new ones.
//!
//! The log is never rewritten. When an event type's payload changes shape,
//! its `schema_version` goes up and an [`Upcaster`] turns the old payload into
//! the new one as it is read, so that aggregates and projections only ever
//! see the newest version.

use std::sync::Arc;

use crate::StoreError;
use crate::event::RecordedEvent;

pub trait Upcaster: Send + Sync {
    /// Does this upcaster take events of `event_type` at `schema_version`?
    fn can_upcast(&self, event_type: &str, schema_version: i32) -> bool;

    /// Rewrite the payload and raise `schema_version` (to any higher value).
    fn upcast(&self, event: &mut RecordedEvent) -> Result<(), StoreError>;
}

#[derive(Clone, Default)]
pub(crate) struct Upcasters(Arc<[Arc<dyn Upcaster>]>);

impl Upcasters {
    pub fn new(upcasters: Vec<Arc<dyn Upcaster>>) -> Self {
        Self(upcasters.into())
    }

    /// Apply every upcaster that fits, repeatedly, until none does (v1 → v2 → v3).
    pub fn apply(&self, event: &mut RecordedEvent) -> Result<(), StoreError> {
        while let Some(upcaster) = self
            .0
            .iter()
            .find(|u| u.can_upcast(&event.event_type, event.schema_version))
        {
            let before = event.schema_version;
            upcaster.upcast(event)?;
            if event.schema_version <= before {
                return Err(StoreError::Decode(format!(
                    "an upcaster of {} did not raise schema version {before}",
                    event.event_type
                )));
            }
        }
        Ok(())
    }
}
