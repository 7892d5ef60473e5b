//! `replay stats`: what the log holds.

use std::io::Write;

use serde_json::{Value, json};
use sqlx::Row;
use store::{Backend, EventLog};

use crate::ReplayError;

pub async fn run(
    log: &EventLog,
    tenant: Option<&str>,
    as_json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), ReplayError> {
    let stats = collect(log, tenant).await?;
    if as_json {
        serde_json::to_writer_pretty(&mut *out, &stats)?;
        writeln!(out)?;
        return Ok(());
    }
    let totals = &stats["totals"];
    let position = |key: &str| totals[key].as_i64().map_or("-".into(), |p| p.to_string());
    writeln!(
        out,
        "{} events in {} streams{}, positions {}..{}, {} to {}",
        totals["events"],
        totals["streams"],
        tenant
            .map(|t| format!(" of tenant {t}"))
            .unwrap_or_default(),
        position("firstPosition"),
        position("lastPosition"),
        totals["firstAt"].as_str().unwrap_or("-"),
        totals["lastAt"].as_str().unwrap_or("-"),
    )?;
    writeln!(
        out,
        "payloads {} bytes, metadata {} bytes; the events table takes {} bytes on disk",
        totals["payloadBytes"], totals["metadataBytes"], stats["storage"]["eventsTableBytes"]
    )?;
    for (title, key, name) in [
        ("by type", "byType", "type"),
        ("by day", "byDay", "day"),
        ("by stream kind", "byStreamKind", "kind"),
        ("by tenant", "byTenant", "tenant"),
    ] {
        let Some(rows) = stats[key].as_array() else {
            continue;
        };
        writeln!(out, "\n{title}:")?;
        for row in rows {
            writeln!(
                out,
                "  {:<32} {:>10} events {:>12} bytes",
                row[name].as_str().unwrap_or("-"),
                row["events"],
                row["payloadBytes"]
            )?;
        }
    }
    Ok(())
}

/// The figures, as JSON.
pub async fn collect(log: &EventLog, tenant: Option<&str>) -> Result<Value, ReplayError> {
    let pool = log.db().pool();
    let backend = log.db().backend();
    // `$1 IS NULL OR tenant = $1`: one query shape for one tenant or all.
    let scope = "WHERE ($1 IS NULL OR tenant = $1)";
    let bytes = |column: &str| match backend {
        Backend::Sqlite => format!("COALESCE(SUM(LENGTH(CAST({column} AS BLOB))), 0)"),
        Backend::Postgres => format!("COALESCE(SUM(OCTET_LENGTH({column})), 0)::BIGINT"),
    };
    let (payload_bytes, metadata_bytes) = (bytes("payload"), bytes("metadata"));
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), COUNT(DISTINCT stream_id), MIN(position), MAX(position), \
         MIN(recorded_at), MAX(recorded_at), {payload_bytes}, {metadata_bytes} \
         FROM events {scope}"
    )))
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    let totals = json!({
        "events": row.try_get::<i64, _>(0)?,
        "streams": row.try_get::<i64, _>(1)?,
        "firstPosition": row.try_get::<Option<i64>, _>(2)?,
        "lastPosition": row.try_get::<Option<i64>, _>(3)?,
        "firstAt": row.try_get::<Option<String>, _>(4)?,
        "lastAt": row.try_get::<Option<String>, _>(5)?,
        "payloadBytes": row.try_get::<i64, _>(6)?,
        "metadataBytes": row.try_get::<i64, _>(7)?,
    });
    let stream_kind = match backend {
        Backend::Sqlite => "SUBSTR(stream_id, 1, INSTR(stream_id, '/') - 1)",
        Backend::Postgres => "SPLIT_PART(stream_id, '/', 1)",
    };
    let mut groups = serde_json::Map::new();
    let mut by = vec![
        ("byType", "type", "event_type".to_owned()),
        ("byDay", "day", "SUBSTR(recorded_at, 1, 10)".to_owned()),
        ("byStreamKind", "kind", stream_kind.to_owned()),
    ];
    if tenant.is_none() {
        by.push(("byTenant", "tenant", "tenant".to_owned()));
    }
    for (key, name, expression) in by {
        let order = if name == "day" { "1" } else { "2 DESC, 1" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {expression}, COUNT(*), {payload_bytes} FROM events \
             {scope} GROUP BY 1 ORDER BY {order}"
        )))
        .bind(tenant)
        .fetch_all(pool)
        .await?;
        let rows = rows
            .iter()
            .map(|row| {
                Ok(json!({
                    name: row.try_get::<String, _>(0)?,
                    "events": row.try_get::<i64, _>(1)?,
                    "payloadBytes": row.try_get::<i64, _>(2)?,
                }))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        groups.insert(key.to_owned(), Value::Array(rows));
    }
    let table_bytes: Option<i64> = match backend {
        Backend::Sqlite => {
            // Without the dbstat table in every build: the whole file.
            sqlx::query_scalar(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            )
            .fetch_optional(pool)
            .await?
        }
        Backend::Postgres => {
            sqlx::query_scalar("SELECT pg_total_relation_size('events'::regclass)")
                .fetch_optional(pool)
                .await?
        }
    };
    let mut stats = json!({
        "tenant": tenant,
        "totals": totals,
        "storage": { "backend": backend.name(), "eventsTableBytes": table_bytes },
    });
    if let Value::Object(map) = &mut stats {
        map.extend(groups);
    }
    Ok(stats)
}
