//! `replay rebuild`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use projections::Projection;
use projections::rebuild::{Progress, Rebuild};
use store::EventLog;

use crate::{Feedback, ReplayError};

/// Every projection and the tables it owns.
pub fn list(log: &EventLog, out: &mut (dyn Write + Send)) -> Result<(), ReplayError> {
    for projection in projections::all() {
        let tables = projection.tables(log.db().backend());
        writeln!(out, "{}: {}", projection.name(), tables.join(", "))?;
    }
    Ok(())
}

/// The projections named (all when none is), in the projector's order.
fn chosen(names: &[String]) -> Result<Vec<Arc<dyn Projection>>, ReplayError> {
    let all = projections::all();
    if let Some(unknown) = names
        .iter()
        .find(|name| !all.iter().any(|p| p.name() == name.as_str()))
    {
        let known: Vec<_> = all.iter().map(|p| p.name()).collect();
        return Err(ReplayError::Usage(format!(
            "no projection named {unknown:?}; there are: {}",
            known.join(", ")
        )));
    }
    Ok(all
        .into_iter()
        .filter(|p| names.is_empty() || names.iter().any(|n| n == p.name()))
        .collect())
}

pub async fn run(
    log: &EventLog,
    names: &[String],
    fresh: bool,
    out: &mut (dyn Write + Send),
    feedback: Feedback,
) -> Result<bool, ReplayError> {
    let chosen = chosen(names)?;
    let started = Instant::now();
    let rebuild = Rebuild::open(log.clone(), chosen, fresh).await?;
    let resumed = rebuild.position();
    if resumed > 0 {
        writeln!(
            out,
            "resuming an interrupted rebuild from position {resumed}"
        )?;
    }
    let bar = match feedback {
        Feedback::Terminal => {
            let bar = ProgressBar::new(log.stored_head().await?.max(0) as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            Some(bar)
        }
        Feedback::Quiet => None,
    };
    let read = AtomicU64::new(0);
    let mut report = |p: Progress| {
        read.store(p.events, Ordering::Relaxed);
        if let Some(bar) = &bar {
            let rate = p.events as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_length(p.head.max(p.position).max(0) as u64);
            bar.set_position(p.position.max(0) as u64);
            bar.set_message(format!("{rate:.0} events/s"));
        }
    };
    let swapped = rebuild.swap(&mut report).await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed();
    let events = read.load(Ordering::Relaxed);
    writeln!(
        out,
        "rebuilt up to position {} ({events} events read) in {:.2} s ({:.0} events/s) \
         and swapped in:",
        swapped.position,
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64().max(1e-3),
    )?;
    writeln!(
        out,
        "  (the swap held appends for {:.0} ms)",
        swapped.held.as_secs_f64() * 1e3
    )?;
    for (table, rows) in &swapped.tables {
        writeln!(out, "  {table}: {rows} rows")?;
    }
    Ok(true)
}
