//! The `Visitor` aggregate: what a visitor (or any user) did on the
//! customer's site, as widgets report it (the chatbot seed's
//! `track-activity` and `page-view`).
//!
//! One aggregate per user, stream `visitor/{tenant}/{user}`. Rules:
//! - customers and staff record their own activity and page views
//!   (analysts, auditors and services do not browse the site);
//! - an activity is a short name (1 to 100 characters, no control
//!   characters) with optional data: any JSON value of at most 16 KiB;
//! - a page is a URL or path of 1 to 2,048 characters without whitespace or
//!   control characters; so is a referrer, which is optional;
//! - nothing is ever refused for being repeated: every report is a fact.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::actor::{Actor, Role};
use crate::ids::{TenantId, UserId};
use crate::message::has_nul;
use crate::{DomainError, Timestamp};

/// Schema version of every visitor event; bump per type with an upcaster.
pub const SCHEMA_VERSION: u32 = 1;

/// Every stream of this aggregate starts with this.
pub const STREAM_PREFIX: &str = "visitor/";

/// What a visitor did (`"button_click"`, `"chat_opened"`): 1 to
/// [`ActivityName::MAX_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityName(String);

impl ActivityName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(DomainError::invalid("activity", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(
                "activity",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "activity",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An activity's details: any JSON value of at most
/// [`ActivityData::MAX_BYTES`] (serialized), without NUL characters (which
/// PostgreSQL cannot store).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityData(Value);

impl ActivityData {
    pub const MAX_BYTES: usize = 16 * 1024;

    pub fn parse(raw: Value) -> Result<Self, DomainError> {
        let size = serde_json::to_vec(&raw).map_or(usize::MAX, |v| v.len());
        if size > Self::MAX_BYTES {
            return Err(DomainError::invalid(
                "data",
                format!("must be at most {} bytes of JSON", Self::MAX_BYTES),
            ));
        }
        if has_nul(&raw) {
            return Err(DomainError::invalid(
                "data",
                "must not contain NUL characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

/// A page's URL or path (also a referrer): 1 to [`PageUrl::MAX_CHARS`]
/// characters, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUrl(String);

impl PageUrl {
    pub const MAX_CHARS: usize = 2_048;

    pub fn parse(field: &'static str, raw: impl Into<String>) -> Result<Self, DomainError> {
        let raw = raw.into();
        if raw.is_empty() {
            return Err(DomainError::invalid(field, "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DomainError::invalid(
                field,
                "must not contain whitespace or control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<PageUrl> for String {
    fn from(url: PageUrl) -> String {
        url.0
    }
}

/// One command: who reports, when, what.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingCommand {
    pub actor: Actor,
    pub at: Timestamp,
    pub action: TrackingAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TrackingAction {
    TrackActivity {
        activity: ActivityName,
        data: Option<ActivityData>,
    },
    ViewPage {
        page: PageUrl,
        referrer: Option<PageUrl>,
    },
}

/// What a visitor did. Past tense, stable names, versioned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrackingEvent {
    ActivityTracked(ActivityTracked),
    PageViewed(PageViewed),
}

impl TrackingEvent {
    /// The stable name stored as `event_type`; equal to the serde tag.
    pub fn name(&self) -> &'static str {
        match self {
            Self::ActivityTracked(_) => "ActivityTracked",
            Self::PageViewed(_) => "PageViewed",
        }
    }

    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::ActivityTracked(e) => &e.tenant,
            Self::PageViewed(e) => &e.tenant,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityTracked {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub activity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageViewed {
    pub tenant: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    pub at: Timestamp,
}

/// The decision state of one visitor: whose stream it is, and how much it
/// holds (nothing later decisions depend on beyond the owner).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Visitor {
    owner: Option<(TenantId, UserId)>,
    activities: u64,
    page_views: u64,
}

impl Visitor {
    /// The event-log stream of a user's activity. Tenant ids cannot contain
    /// `/` and the user id comes last, so different (tenant, user) pairs
    /// never share a stream.
    pub fn stream_id(tenant: &TenantId, user: &UserId) -> String {
        format!("{STREAM_PREFIX}{tenant}/{user}")
    }

    /// Does this stream hold a visitor's events?
    pub fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }

    pub fn activities(&self) -> u64 {
        self.activities
    }

    pub fn page_views(&self) -> u64 {
        self.page_views
    }

    /// Decide what happens. Pure: no clock, no IO; refusals produce no events.
    pub fn handle(&self, cmd: TrackingCommand) -> Result<Vec<TrackingEvent>, DomainError> {
        let TrackingCommand { actor, at, action } = cmd;
        // Streams are per tenant and user, so this only guards against a
        // caller bug: answer as if there were nothing.
        if let Some((tenant, user)) = &self.owner
            && (*tenant != actor.tenant || *user != actor.user)
        {
            return Err(DomainError::NotFound(format!("visitor {}", actor.user)));
        }
        if !actor.role.may_participate() {
            return Err(DomainError::Forbidden(format!(
                "the {} role does not report site activity",
                actor.role
            )));
        }
        Ok(vec![match action {
            TrackingAction::TrackActivity { activity, data } => {
                TrackingEvent::ActivityTracked(ActivityTracked {
                    tenant: actor.tenant,
                    user_id: actor.user,
                    role: actor.role,
                    activity: activity.0,
                    data: data.map(ActivityData::into_value),
                    at,
                })
            }
            TrackingAction::ViewPage { page, referrer } => TrackingEvent::PageViewed(PageViewed {
                tenant: actor.tenant,
                user_id: actor.user,
                role: actor.role,
                page: page.into(),
                referrer: referrer.map(Into::into),
                at,
            }),
        }])
    }

    /// Evolve the state. Never fails: an event that was recorded happened.
    pub fn apply(&mut self, event: TrackingEvent) {
        match event {
            TrackingEvent::ActivityTracked(e) => {
                self.owner = Some((e.tenant, e.user_id));
                self.activities += 1;
            }
            TrackingEvent::PageViewed(e) => {
                self.owner = Some((e.tenant, e.user_id));
                self.page_views += 1;
            }
        }
    }
}

// cqrs-es glue (see [`crate::cqrs`]).
crate::cqrs::pure_aggregate!(
    Visitor,
    "visitor",
    TrackingCommand,
    TrackingEvent,
    SCHEMA_VERSION
);

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;
    use serde_json::json;

    use super::*;
    use crate::testing::{actor, at, tenant};

    type VisitorTest = TestFramework<Visitor>;

    fn visitor() -> Actor {
        actor("visitor-s1", Role::Customer)
    }

    fn track(who: &Actor, second: u32, activity: &str, data: Option<Value>) -> TrackingCommand {
        TrackingCommand {
            actor: who.clone(),
            at: at(second),
            action: TrackingAction::TrackActivity {
                activity: ActivityName::parse(activity).unwrap(),
                data: data.map(|d| ActivityData::parse(d).unwrap()),
            },
        }
    }

    fn tracked(who: &Actor, second: u32, activity: &str, data: Option<Value>) -> TrackingEvent {
        TrackingEvent::ActivityTracked(ActivityTracked {
            tenant: who.tenant.clone(),
            user_id: who.user.clone(),
            role: who.role,
            activity: activity.into(),
            data,
            at: at(second),
        })
    }

    fn view(who: &Actor, second: u32, page: &str, referrer: Option<&str>) -> TrackingCommand {
        TrackingCommand {
            actor: who.clone(),
            at: at(second),
            action: TrackingAction::ViewPage {
                page: PageUrl::parse("page", page).unwrap(),
                referrer: referrer.map(|r| PageUrl::parse("referrer", r).unwrap()),
            },
        }
    }

    fn viewed(who: &Actor, second: u32, page: &str, referrer: Option<&str>) -> TrackingEvent {
        TrackingEvent::PageViewed(PageViewed {
            tenant: who.tenant.clone(),
            user_id: who.user.clone(),
            role: who.role,
            page: page.into(),
            referrer: referrer.map(Into::into),
            at: at(second),
        })
    }

    #[test]
    fn a_visitor_tracks_an_activity_with_its_data() {
        let data = json!({ "button": "pricing", "x": 3 });
        VisitorTest::with(())
            .given_no_previous_events()
            .when(track(&visitor(), 1, "button_click", Some(data.clone())))
            .then_expect_events(vec![tracked(&visitor(), 1, "button_click", Some(data))]);
    }

    #[test]
    fn an_activity_without_data_is_recorded_without_data() {
        VisitorTest::with(())
            .given(vec![tracked(&visitor(), 0, "chat_opened", None)])
            .when(track(&visitor(), 1, "chat_opened", None))
            .then_expect_events(vec![tracked(&visitor(), 1, "chat_opened", None)]);
    }

    #[test]
    fn a_page_view_records_the_page_and_the_referrer() {
        VisitorTest::with(())
            .given_no_previous_events()
            .when(view(
                &visitor(),
                2,
                "/pricing?plan=pro",
                Some("https://example.com/"),
            ))
            .then_expect_events(vec![viewed(
                &visitor(),
                2,
                "/pricing?plan=pro",
                Some("https://example.com/"),
            )]);
        VisitorTest::with(())
            .given_no_previous_events()
            .when(view(&visitor(), 2, "/", None))
            .then_expect_events(vec![viewed(&visitor(), 2, "/", None)]);
    }

    #[test]
    fn staff_may_report_and_readers_and_machines_may_not() {
        let agent = actor("ann", Role::Agent);
        VisitorTest::with(())
            .given_no_previous_events()
            .when(view(&agent, 0, "/help", None))
            .then_expect_events(vec![viewed(&agent, 0, "/help", None)]);
        for role in [Role::Analyst, Role::Auditor, Role::Service] {
            VisitorTest::with(())
                .given_no_previous_events()
                .when(track(&actor("x", role), 0, "click", None))
                .then_expect_error(DomainError::Forbidden(format!(
                    "the {role} role does not report site activity"
                )));
        }
    }

    #[test]
    fn another_users_stream_is_not_found() {
        VisitorTest::with(())
            .given(vec![tracked(&visitor(), 0, "click", None)])
            .when(track(
                &actor("someone-else", Role::Customer),
                1,
                "click",
                None,
            ))
            .then_expect_error(DomainError::NotFound("visitor someone-else".into()));
    }

    #[test]
    fn activity_names_are_short_and_printable() {
        assert!(ActivityName::parse("button_click").is_ok());
        assert!(ActivityName::parse("x".repeat(100)).is_ok());
        for raw in ["", "   ", "a\nb", &"x".repeat(101)] {
            assert!(ActivityName::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn activity_data_is_any_json_up_to_16_kib_without_nul() {
        for raw in [json!(null), json!(3), json!("s"), json!([1, 2]), json!({})] {
            assert_eq!(ActivityData::parse(raw.clone()).unwrap().into_value(), raw);
        }
        // `"…"` is the string plus two quotes.
        assert!(ActivityData::parse(json!("x".repeat(ActivityData::MAX_BYTES - 2))).is_ok());
        assert!(ActivityData::parse(json!("x".repeat(ActivityData::MAX_BYTES - 1))).is_err());
        assert!(ActivityData::parse(json!({ "k": ["a\u{0}"] })).is_err());
    }

    #[test]
    fn pages_are_urls_or_paths_without_blanks() {
        assert_eq!(
            PageUrl::parse("page", "https://shop.example/a?b=c")
                .unwrap()
                .as_str(),
            "https://shop.example/a?b=c"
        );
        for raw in ["", "/a b", "/a\tb", &format!("/{}", "x".repeat(2_048))] {
            let refused = PageUrl::parse("referrer", raw);
            assert!(
                matches!(
                    refused,
                    Err(DomainError::Invalid {
                        field: "referrer",
                        ..
                    })
                ),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn streams_names_and_state() {
        let acme = tenant();
        assert_eq!(
            Visitor::stream_id(&acme, &visitor().user),
            "visitor/acme/visitor-s1"
        );
        assert!(Visitor::owns_stream("visitor/acme/x"));
        assert!(!Visitor::owns_stream("swarm/acme/x"));
        let event = tracked(&visitor(), 0, "click", None);
        assert!(
            serde_json::to_value(&event)
                .unwrap()
                .get(event.name())
                .is_some()
        );
        assert_eq!(event.tenant(), &acme);
        let mut state = Visitor::default();
        state.apply(event);
        state.apply(viewed(&visitor(), 1, "/", None));
        assert_eq!((state.activities(), state.page_views()), (1, 1));
    }
}

/// Properties of the tracking parsers, over generated inputs.
#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn activity_names_and_pages_are_bounded_in_characters(c in any::<char>(), n in 95usize..105) {
            let raw: String = std::iter::repeat_n(c, n).collect();
            let activity = !c.is_whitespace() && !c.is_control() && n <= ActivityName::MAX_CHARS;
            prop_assert_eq!(ActivityName::parse(raw.clone()).is_ok(), activity);
            let page: String = std::iter::repeat_n(c, n * 21).collect();
            let page_ok = !c.is_whitespace() && !c.is_control() && n * 21 <= PageUrl::MAX_CHARS;
            prop_assert_eq!(PageUrl::parse("page", page).is_ok(), page_ok);
        }

        #[test]
        fn activity_data_is_bounded_json_without_nul(text in "\\PC{0,60}|[a\u{0}]{0,5}", n in 0usize..400) {
            let value = serde_json::json!({ "items": vec![text.clone(); n] });
            let size = serde_json::to_vec(&value).unwrap().len();
            // No item, no NUL: an empty list holds none of `text`.
            let ok = size <= ActivityData::MAX_BYTES && (n == 0 || !text.contains('\0'));
            prop_assert_eq!(ActivityData::parse(value.clone()).map(ActivityData::into_value).ok(), ok.then_some(value));
        }
    }
}
