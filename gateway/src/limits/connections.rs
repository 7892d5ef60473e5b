//! Concurrent connections per user and per client address.
//!
//! A count per holder, taken at the handshake and given back when the
//! [`Slot`] goes: the last clone of a slot gives its counts back when it is
//! dropped, so a connection releases exactly once however it ends (closed,
//! refused after the count, or dropped half-way through its handshake).
//! An entry is removed when its count reaches zero, so the table holds no
//! more entries than there are open connections.

use domain::ids::{TenantId, UserId};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

use super::ClientIp;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Holder {
    User(TenantId, UserId),
    Ip(ClientIp),
}

/// Which cap a connection would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    User(u32),
    Ip(u32),
}

pub struct Connections {
    per_user: u32,
    per_ip: u32,
    counts: Arc<Mutex<HashMap<Holder, u32>>>,
}

/// One connection's place in the counts; see the module's comment.
#[derive(Clone)]
pub struct Slot {
    // Held only to be dropped: the counts go back when the last clone goes.
    _taken: Arc<Taken>,
}

struct Taken {
    counts: Arc<Mutex<HashMap<Holder, u32>>>,
    holders: Vec<Holder>,
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        release(&mut counts, &self.holders);
    }
}

fn release(counts: &mut HashMap<Holder, u32>, holders: &[Holder]) {
    for holder in holders {
        if let Entry::Occupied(mut count) = counts.entry(holder.clone()) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}

impl Connections {
    pub fn new(per_user: u32, per_ip: u32) -> Self {
        Self {
            per_user,
            per_ip,
            counts: Arc::default(),
        }
    }

    /// Count a new connection of `holders`, all or none: refused when any
    /// of them is at its cap.
    pub fn take(&self, holders: Vec<Holder>) -> Result<Slot, Full> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, holder) in holders.iter().enumerate() {
            let (cap, full) = match holder {
                Holder::User(..) => (self.per_user, Full::User(self.per_user)),
                Holder::Ip(_) => (self.per_ip, Full::Ip(self.per_ip)),
            };
            let count = counts.entry(holder.clone()).or_insert(0);
            if *count >= cap {
                if *count == 0 {
                    counts.remove(holder);
                }
                release(&mut counts, &holders[..i]);
                return Err(full);
            }
            *count += 1;
        }
        drop(counts);
        Ok(Slot {
            _taken: Arc::new(Taken {
                counts: self.counts.clone(),
                holders,
            }),
        })
    }

    /// Holders with at least one connection.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn user(name: &str) -> Holder {
        Holder::User(
            TenantId::parse("acme").unwrap(),
            UserId::parse(name).unwrap(),
        )
    }

    fn ip(raw: &str) -> Holder {
        Holder::Ip(ClientIp::of(raw.parse().unwrap(), &HeaderMap::new(), &[]))
    }

    #[test]
    fn a_user_past_the_cap_is_refused_until_a_connection_goes() {
        let connections = Connections::new(2, 100);
        let first = connections
            .take(vec![user("ana"), ip("192.0.2.1")])
            .unwrap();
        let _second = connections
            .take(vec![user("ana"), ip("192.0.2.2")])
            .unwrap();
        assert_eq!(
            connections.take(vec![user("ana"), ip("192.0.2.3")]).err(),
            Some(Full::User(2))
        );
        // Somebody else is not affected.
        let _bob = connections
            .take(vec![user("bob"), ip("192.0.2.1")])
            .unwrap();
        drop(first);
        assert!(connections.take(vec![user("ana"), ip("192.0.2.3")]).is_ok());
    }

    #[test]
    fn an_address_past_the_cap_is_refused_whoever_connects() {
        let connections = Connections::new(100, 2);
        let _a = connections
            .take(vec![user("ana"), ip("192.0.2.1")])
            .unwrap();
        let _v = connections.take(vec![ip("192.0.2.1")]).unwrap();
        assert_eq!(
            connections.take(vec![user("bob"), ip("192.0.2.1")]).err(),
            Some(Full::Ip(2))
        );
        assert!(connections.take(vec![ip("192.0.2.9")]).is_ok());
    }

    #[test]
    fn a_refused_connection_holds_nothing_and_a_slot_is_given_back_once() {
        let connections = Connections::new(1, 1);
        let slot = connections
            .take(vec![user("ana"), ip("192.0.2.1")])
            .unwrap();
        // Refused on the address after counting the user: the user's count
        // is given back too.
        let _ = connections.take(vec![user("bob"), ip("192.0.2.1")]);
        assert_eq!(connections.held(), 2);
        // Clones share one release.
        let copy = slot.clone();
        drop(slot);
        assert_eq!(connections.held(), 2);
        drop(copy);
        assert_eq!(connections.held(), 0);
        let again = connections.take(vec![user("bob"), ip("192.0.2.1")]);
        assert!(again.is_ok());
    }

    #[test]
    fn the_table_holds_only_holders_with_open_connections() {
        let connections = Connections::new(10, 10);
        let slots: Vec<_> = (0..1000)
            .map(|i| {
                connections
                    .take(vec![
                        user(&format!("u{i}")),
                        ip(&format!("10.0.{}.{}", i / 256, i % 256)),
                    ])
                    .unwrap()
            })
            .collect();
        assert_eq!(connections.held(), 2000);
        drop(slots);
        assert_eq!(connections.held(), 0);
    }
}
