//! What the domain's tests share: a clock that counts seconds from one
//! fixed minute, the tenant they act in, and its people.

use chrono::{TimeZone, Utc};

use crate::Timestamp;
use crate::actor::{Actor, Role};
use crate::ids::{TenantId, UserId};

/// 2026-11-22 10:00:`second` UTC: tests count in seconds from one minute.
pub(crate) fn at(second: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, second).unwrap()
}

/// The tenant tests act in unless they say otherwise.
pub(crate) fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// `user` of the test tenant with `role`, named "`user` name".
pub(crate) fn actor(user: &str, role: Role) -> Actor {
    actor_in("acme", user, role)
}

/// `user` of `tenant` with `role`, named "`user` name".
pub(crate) fn actor_in(tenant: &str, user: &str, role: Role) -> Actor {
    Actor {
        user: UserId::parse(user).unwrap(),
        tenant: TenantId::parse(tenant).unwrap(),
        role,
        name: Some(format!("{user} name")),
    }
}
