//! cqrs-es glue: the framework drives the aggregate through these impls,
//! which only forward to the pure `handle` and `apply`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};

use super::{Presence, PresenceCommand, PresenceEvent, SCHEMA_VERSION};
use crate::DomainError;

impl Aggregate for Presence {
    const TYPE: &'static str = "presence";
    type Command = PresenceCommand;
    type Event = PresenceEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        // Decide first, on an unchanged state; only then record and apply.
        for event in Presence::handle(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        Presence::apply(self, event);
    }
}

impl DomainEvent for PresenceEvent {
    fn event_type(&self) -> String {
        self.name().to_owned()
    }

    fn event_version(&self) -> String {
        SCHEMA_VERSION.to_string()
    }
}
