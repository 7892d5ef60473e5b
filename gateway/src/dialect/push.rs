//! One outbound event and who hears it: rooms of a namespace, less the
//! socket that caused it. Sent as `io.to(rooms).except(sid).emit(…)`, so
//! that an adapter behind the namespace can carry it to other nodes.

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::socket::Sid;

#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The Socket.IO namespace (`/` or a dialect's own); a WebSocket
    /// dialect names its own, which the socket layer does not serve.
    pub namespace: &'static str,
    /// Every socket in any of these rooms hears it, once.
    pub rooms: Vec<String>,
    /// Sockets in any of these rooms do not hear it: the socket that caused
    /// the change (every socket is alone in a room named by its id), or
    /// those that heard it already.
    pub except: Vec<String>,
    pub event: &'static str,
    pub payload: Value,
    pub stamp: Stamp,
}

/// A field of the payload that differs per receiving socket: such a push
/// is sent one socket at a time.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Stamp {
    #[default]
    Same,
    /// `field` is the receiving socket's id (helpdesk's envelopes).
    SocketId { field: &'static str },
    /// Sent once for each room of the socket named `prefix` + X, with
    /// `field` = X, in X's order (the dashboards a socket follows).
    PerRoom { prefix: String, field: &'static str },
}

impl Push {
    /// To `rooms` of `namespace`, everyone in them.
    pub fn to(
        namespace: &'static str,
        rooms: impl IntoIterator<Item = String>,
        event: &'static str,
        payload: Value,
    ) -> Self {
        Self {
            namespace,
            rooms: rooms.into_iter().collect(),
            except: Vec::new(),
            event,
            payload,
            stamp: Stamp::Same,
        }
    }

    /// Leave out `socket` (the one whose command caused the change).
    pub fn except(mut self, socket: Option<Sid>) -> Self {
        self.except.extend(socket.map(|sid| sid.to_string()));
        self
    }

    /// Leave out the sockets in `room`.
    pub fn except_room(mut self, room: String) -> Self {
        self.except.push(room);
        self
    }

    pub fn stamped(mut self, stamp: Stamp) -> Self {
        self.stamp = stamp;
        self
    }

    /// Send it to the sockets of this node's `io` in its rooms.
    pub async fn send(self, io: &SocketIo) {
        let Some(namespace) = io.of(self.namespace) else {
            return;
        };
        let mut to = namespace.to(self.rooms);
        if !self.except.is_empty() {
            to = to.except(self.except);
        }
        match &self.stamp {
            Stamp::Same => {
                // Every socket is on this node (the local adapter): a push
                // that nobody hears is not even serialized. Most changes
                // have a renderer per dialect and listeners in one.
                if to.clone().sockets().is_empty() {
                    return;
                }
                if let Err(error) = to.emit(self.event, &self.payload).await {
                    tracing::debug!(%error, event = self.event, "push not delivered to every socket");
                }
            }
            Stamp::SocketId { field } => {
                for socket in to.sockets() {
                    let mut payload = self.payload.clone();
                    payload[*field] = Value::String(socket.id.to_string());
                    if let Err(error) = socket.emit(self.event, &payload) {
                        tracing::debug!(%error, event = self.event, "push not delivered");
                    }
                }
            }
            Stamp::PerRoom { prefix, field } => {
                for socket in to.sockets() {
                    let mut names: Vec<String> = socket
                        .rooms()
                        .into_iter()
                        .filter_map(|room| room.strip_prefix(prefix.as_str()).map(str::to_owned))
                        .collect();
                    names.sort();
                    for name in names {
                        let mut payload = self.payload.clone();
                        payload[*field] = Value::String(name);
                        if let Err(error) = socket.emit(self.event, &payload) {
                            tracing::debug!(%error, event = self.event, "push not delivered");
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_push_leaves_out_the_socket_that_caused_it_by_its_own_room() {
        let sid = Sid::new();
        let push = Push::to("/", ["room-a".to_owned()], "event", json!({}))
            .except(Some(sid))
            .except_room("room-b:staff".to_owned());
        assert_eq!(push.except, [sid.to_string(), "room-b:staff".to_owned()]);
        assert_eq!(push.stamp, Stamp::Same);
        let unchanged = Push::to("/", ["room-a".to_owned()], "event", json!({})).except(None);
        assert!(unchanged.except.is_empty());
    }
}
