//! The support side of conversations: one row per support conversation
//! (the chatbot seed's `IConversation` without its messages), the queue
//! with positions and estimated waits, and metrics per tenant, agent and
//! day.
//!
//! # Layout
//! - `projection`: [`SupportConversations`], which writes the rows and
//!   publishes support and queue updates.
//! - `queries`: one conversation, several, a filtered page, open and idle
//!   ones, agents' loads.
//! - `queue`: the queue and its estimated waits.
//! - `metrics`: counts, medians and percentiles per tenant, agent and day.
//! - `row`: a row as a [`SupportView`].
//! - The view types ([`SupportView`], [`QueueEntry`], [`SupportChange`])
//!   live in [`crate::views::support`], which `update` can name without
//!   depending on this projection; they are re-exported here.

mod metrics;
mod projection;
mod queries;
mod queue;
mod row;

pub use crate::views::support::{QueueEntry, SupportChange, SupportView};
pub use metrics::{
    AgentMetrics, DayMetrics, Metrics, MetricsGroup, Spread, metrics, percentile, summarize,
};
pub use projection::SupportConversations;
pub use queries::{
    Idle, SupportQuery, active_counts, get, get_many, idle, latest_open_for_user, list,
    open_for_customer,
};
pub use queue::{DEFAULT_HANDLE_SECONDS, estimated_wait, queue};

pub const NAME: &str = "support_conversations";
