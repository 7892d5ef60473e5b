//! Metrics per tenant, agent and day.
//!
//! They select the rows of the period and compute counts, medians and 90th
//! percentiles in Rust: fine for the thousands of conversations a tenant
//! has per period; a very large tenant would want SQL aggregates.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{TenantId, UserId};
use store::Db;
use store::event::format_time;

use super::row::{COLUMNS, decode};
use crate::ProjectionError;
use crate::views::support::SupportView;

/// A median and a 90th percentile, in seconds (`None` without data).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

impl Spread {
    fn of(values: Vec<f64>) -> Self {
        Self {
            median: percentile(values.clone(), 0.5),
            p90: percentile(values, 0.9),
        }
    }
}

/// The figures of one group of conversations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsGroup {
    pub conversations: u64,
    /// Ended (or ended and closed).
    pub ended: u64,
    pub messages: u64,
    /// By the assistant (`service` authors).
    pub ai_messages: u64,
    /// By staff.
    pub agent_messages: u64,
    /// Ever waited for a human.
    pub queued: u64,
    pub queue_time: Spread,
    pub first_response: Spread,
    pub handle_time: Spread,
    pub ratings_good: u64,
    pub ratings_bad: u64,
    /// Good ÷ rated (`None` when none was rated).
    pub csat: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentMetrics {
    pub agent_id: UserId,
    pub agent_name: Option<String>,
    pub metrics: MetricsGroup,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DayMetrics {
    /// The UTC date the conversations were created on.
    pub day: NaiveDate,
    pub metrics: MetricsGroup,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metrics {
    pub overall: MetricsGroup,
    /// By assigned agent, by agent id.
    pub per_agent: Vec<AgentMetrics>,
    /// By day, oldest first.
    pub per_day: Vec<DayMetrics>,
}

/// Metrics over the tenant's conversations created in `[from, to)`
/// (unbounded where `None`).
pub async fn metrics(
    db: &Db,
    tenant: &TenantId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Metrics, ProjectionError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM support_conversations WHERE tenant = $1 \
         AND ($2 IS NULL OR created_at >= $2) AND ($3 IS NULL OR created_at < $3)"
    )))
    .bind(tenant.as_str())
    .bind(from.map(format_time))
    .bind(to.map(format_time))
    .fetch_all(db.pool())
    .await?;
    let views = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Ok(summarize(&views))
}

/// The metrics of these conversations, overall, per agent and per day.
pub fn summarize(views: &[SupportView]) -> Metrics {
    let mut agents: BTreeMap<&UserId, (Option<&str>, Vec<&SupportView>)> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, Vec<&SupportView>> = BTreeMap::new();
    for view in views {
        if let Some(agent) = &view.assigned_agent_id {
            let slot = agents.entry(agent).or_default();
            slot.0 = slot.0.or(view.assigned_agent_name.as_deref());
            slot.1.push(view);
        }
        days.entry(view.created_at.date_naive())
            .or_default()
            .push(view);
    }
    Metrics {
        overall: group(views.iter()),
        per_agent: agents
            .into_iter()
            .map(|(agent, (name, views))| AgentMetrics {
                agent_id: agent.clone(),
                agent_name: name.map(str::to_owned),
                metrics: group(views.into_iter()),
            })
            .collect(),
        per_day: days
            .into_iter()
            .map(|(day, views)| DayMetrics {
                day,
                metrics: group(views.into_iter()),
            })
            .collect(),
    }
}

fn group<'a>(views: impl Iterator<Item = &'a SupportView>) -> MetricsGroup {
    let mut g = MetricsGroup::default();
    let (mut queue, mut first, mut handle) = (Vec::new(), Vec::new(), Vec::new());
    for v in views {
        g.conversations += 1;
        g.ended += u64::from(v.ended_at.is_some());
        g.messages += v.message_count;
        g.ai_messages += v.ai_message_count;
        g.agent_messages += v.agent_message_count;
        g.queued += u64::from(v.queued_at.is_some());
        queue.extend(v.queue_time_seconds.map(|s| s as f64));
        first.extend(v.first_response_seconds.map(|s| s as f64));
        handle.extend(v.handle_time_seconds.map(|s| s as f64));
        match v.rating {
            Some(r) if r.is_satisfied() => g.ratings_good += 1,
            Some(_) => g.ratings_bad += 1,
            None => {}
        }
    }
    g.queue_time = Spread::of(queue);
    g.first_response = Spread::of(first);
    g.handle_time = Spread::of(handle);
    let rated = g.ratings_good + g.ratings_bad;
    g.csat = (rated > 0).then(|| g.ratings_good as f64 / rated as f64);
    g
}

/// The `p` quantile (0 to 1) of `values`, interpolating linearly between
/// the two nearest ranks (so the median of an even count is the mean of the
/// middle two). `None` for no values.
pub fn percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = p.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let fraction = rank - low as f64;
    Some(values[low] + (values[high] - values[low]) * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(one_to_ten.clone(), 0.5), Some(5.5));
        assert_eq!(percentile(one_to_ten, 0.9), Some(9.1));
        assert_eq!(percentile(vec![30.0, 10.0, 20.0], 0.5), Some(20.0));
        assert_eq!(percentile(vec![7.0], 0.9), Some(7.0));
        assert_eq!(percentile(Vec::new(), 0.5), None);
    }
}
