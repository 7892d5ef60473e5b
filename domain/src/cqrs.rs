//! cqrs-es glue, one macro for every aggregate: the framework drives an
//! aggregate through `Aggregate` and `DomainEvent` impls that only forward
//! to its pure `handle` and `apply` and to its events' `name()`.

/// `pure_aggregate!(Type, "stored type", Command, Event, SCHEMA_VERSION)`.
/// The type must have `fn handle(&self, Command) -> Result<Vec<Event>,
/// DomainError>` and `fn apply(&mut self, Event)`; the event enum must have
/// `fn name(&self) -> &'static str`.
macro_rules! pure_aggregate {
    ($aggregate:ty, $type_name:literal, $command:ty, $event:ty, $version:expr) => {
        impl cqrs_es::Aggregate for $aggregate {
            const TYPE: &'static str = $type_name;
            type Command = $command;
            type Event = $event;
            type Error = $crate::DomainError;
            type Services = ();

            async fn handle(
                &mut self,
                command: Self::Command,
                _services: &Self::Services,
                sink: &cqrs_es::event_sink::EventSink<Self>,
            ) -> Result<(), Self::Error> {
                // Decide first, on an unchanged state; only then record and apply.
                for event in <$aggregate>::handle(self, command)? {
                    sink.write(event, self).await;
                }
                Ok(())
            }

            fn apply(&mut self, event: Self::Event) {
                <$aggregate>::apply(self, event);
            }
        }

        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                self.name().to_owned()
            }

            fn event_version(&self) -> String {
                $version.to_string()
            }
        }
    };
}

pub(crate) use pure_aggregate;
