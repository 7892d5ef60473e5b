//! The knowledge base: each tenant's live articles and a full-text index
//! over them (SQLite FTS5 ranked with BM25; PostgreSQL's weighted
//! `tsvector` ranked with `ts_rank_cd`). What the assistant retrieves and
//! `search-knowledge` answers from.
//!
//! Articles push nothing to clients, so this projection publishes no
//! updates.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::ids::{ArticleId, TenantId};
use domain::knowledge::{Article, ArticleEvent, ArticleWritten, STREAM_PREFIX, query_terms};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use store::event::{format_time, parse_time};
use store::{Backend, Db, RecordedEvent};

use crate::update::Update;
use crate::{Projection, ProjectionError};

pub const NAME: &str = "kb_articles";

/// The most results one search returns.
pub const MAX_LIMIT: u32 = 50;
/// Characters of body a snippet shows.
const SNIPPET_CHARS: usize = 200;
/// Rows a tag-filtered search looks through (tags are filtered after
/// ranking).
const TAG_SCAN: i64 = 500;

/// One live article.
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleView {
    pub tenant: TenantId,
    pub article_id: ArticleId,
    pub version: u64,
    pub title: String,
    pub body: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What to look for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KnowledgeQuery {
    pub text: String,
    /// Only articles of this category.
    pub category: Option<String>,
    /// Only articles with at least one of these tags.
    pub tags: Vec<String>,
    /// 1 to [`MAX_LIMIT`].
    pub limit: u32,
}

/// A found article: higher `score` is better (0 when only filters chose it).
#[derive(Debug, Clone, PartialEq)]
pub struct ArticleHit {
    pub article: ArticleView,
    pub score: f64,
    pub snippet: String,
}

pub struct Knowledge;

#[async_trait]
impl Projection for Knowledge {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self, backend: Backend) -> &'static [&'static str] {
        match backend {
            // FTS5 keeps its index in a table of its own; PostgreSQL in a
            // generated column.
            Backend::Sqlite => &["kb_articles", "kb_articles_fts"],
            Backend::Postgres => &["kb_articles"],
        }
    }

    fn stream_prefix(&self) -> Option<&'static str> {
        Some(STREAM_PREFIX)
    }

    async fn apply(
        &self,
        conn: &mut AnyConnection,
        events: &[RecordedEvent],
    ) -> Result<Vec<Update>, ProjectionError> {
        let backend = Backend::of(conn);
        for recorded in events {
            if !Article::owns_stream(&recorded.stream_id) {
                continue;
            }
            match store::aggregate::decode_payload::<Article>(recorded)? {
                ArticleEvent::ArticleCreated(e) | ArticleEvent::ArticleUpdated(e) => {
                    write(conn, backend, &e).await?;
                }
                ArticleEvent::ArticleDeleted(e) => {
                    remove(conn, backend, &e.tenant, &e.article_id).await?;
                }
            }
        }
        Ok(Vec::new())
    }
}

async fn write(
    conn: &mut AnyConnection,
    backend: Backend,
    e: &ArticleWritten,
) -> Result<(), ProjectionError> {
    let tags = serde_json::to_string(&e.tags)?;
    sqlx::query(
        "INSERT INTO kb_articles (tenant, article_id, version, title, body, category, tags, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (tenant, article_id) DO UPDATE SET version = $3, title = $4, body = $5, \
         category = $6, tags = $7, updated_at = $8",
    )
    .bind(e.tenant.as_str())
    .bind(e.article_id.as_str())
    .bind(i64::try_from(e.version).unwrap_or(i64::MAX))
    .bind(e.title.as_str())
    .bind(e.body.as_str())
    .bind(e.category.as_deref())
    .bind(tags.as_str())
    .bind(format_time(e.at))
    .execute(&mut *conn)
    .await?;
    if backend == Backend::Sqlite {
        // PostgreSQL derives its vector from the row; FTS5 is told.
        remove_indexed(conn, &e.tenant, &e.article_id).await?;
        sqlx::query(
            "INSERT INTO kb_articles_fts (tenant, article_id, title, tags, body) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(e.tenant.as_str())
        .bind(e.article_id.as_str())
        .bind(e.title.as_str())
        .bind(e.tags.join(" "))
        .bind(e.body.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn remove(
    conn: &mut AnyConnection,
    backend: Backend,
    tenant: &TenantId,
    article: &ArticleId,
) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM kb_articles WHERE tenant = $1 AND article_id = $2")
        .bind(tenant.as_str())
        .bind(article.as_str())
        .execute(&mut *conn)
        .await?;
    if backend == Backend::Sqlite {
        remove_indexed(conn, tenant, article).await?;
    }
    Ok(())
}

async fn remove_indexed(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    article: &ArticleId,
) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM kb_articles_fts WHERE tenant = $1 AND article_id = $2")
        .bind(tenant.as_str())
        .bind(article.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const COLUMNS: &str = "a.tenant, a.article_id, a.version, a.title, a.body, a.category, a.tags, \
                       a.created_at, a.updated_at";

fn decode(row: &AnyRow) -> Result<ArticleView, ProjectionError> {
    let bad = |e: domain::DomainError| ProjectionError::Decode(e.to_string());
    Ok(ArticleView {
        tenant: TenantId::parse(row.try_get::<String, _>(0)?).map_err(bad)?,
        article_id: ArticleId::parse(row.try_get::<String, _>(1)?).map_err(bad)?,
        version: u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or_default(),
        title: row.try_get(3)?,
        body: row.try_get(4)?,
        category: row.try_get(5)?,
        tags: serde_json::from_str(&row.try_get::<String, _>(6)?)?,
        created_at: parse_time(&row.try_get::<String, _>(7)?)?,
        updated_at: parse_time(&row.try_get::<String, _>(8)?)?,
    })
}

/// The tenant's best articles for `query`, best first. The text is reduced
/// to its content words ([`query_terms`]), any of which may match; with no
/// content words, the filters alone choose (newest first), and with
/// neither, nothing is found.
pub async fn search(
    db: &Db,
    tenant: &TenantId,
    query: &KnowledgeQuery,
) -> Result<Vec<ArticleHit>, ProjectionError> {
    let limit = query.limit.clamp(1, MAX_LIMIT);
    let terms = query_terms(&query.text);
    let tags: Vec<String> = query.tags.iter().map(|t| t.trim().to_lowercase()).collect();
    let category = query.category.as_deref();
    if terms.is_empty() && category.is_none() && tags.is_empty() {
        return Ok(Vec::new());
    }
    // Tags are filtered here, after ranking: look further when they are.
    let fetch = if tags.is_empty() {
        i64::from(limit)
    } else {
        TAG_SCAN
    };
    let category_filter = if category.is_some() {
        " AND a.category = $3"
    } else {
        " AND $3 IS NULL"
    };
    let sql = match (terms.is_empty(), db.backend()) {
        (true, _) => format!(
            "SELECT {COLUMNS}, CAST(0 AS DOUBLE PRECISION) FROM kb_articles a WHERE a.tenant = $1 AND $2 = ''\
             {category_filter} ORDER BY a.updated_at DESC, a.article_id LIMIT $4"
        ),
        // bm25 is lower for better matches; weights follow the columns:
        // tenant, article_id, title, tags, body.
        (false, Backend::Sqlite) => format!(
            "SELECT {COLUMNS}, -bm25(kb_articles_fts, 0.0, 0.0, 10.0, 4.0, 1.0) AS score \
             FROM kb_articles_fts f JOIN kb_articles a \
             ON a.tenant = f.tenant AND a.article_id = f.article_id \
             WHERE kb_articles_fts MATCH $2 AND f.tenant = $1{category_filter} \
             ORDER BY score DESC, a.article_id LIMIT $4"
        ),
        (false, Backend::Postgres) => format!(
            "SELECT {COLUMNS}, ts_rank_cd(a.search, to_tsquery('english', $2))::float8 AS score \
             FROM kb_articles a \
             WHERE a.tenant = $1 AND a.search @@ to_tsquery('english', $2){category_filter} \
             ORDER BY score DESC, a.article_id LIMIT $4"
        ),
    };
    let matcher = match db.backend() {
        _ if terms.is_empty() => String::new(),
        // Quoted: every term is a plain string to FTS5, never syntax.
        Backend::Sqlite => terms
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(" OR "),
        // Letters and digits only, so safe as tsquery operands.
        Backend::Postgres => terms.join(" | "),
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(matcher.as_str())
        .bind(category)
        .bind(fetch)
        .fetch_all(db.pool())
        .await?;
    let mut hits = Vec::new();
    for row in &rows {
        let article = decode(row)?;
        if !tags.is_empty() && !article.tags.iter().any(|t| tags.contains(t)) {
            continue;
        }
        let score: f64 = row.try_get(9)?;
        let snippet = snippet(&article.body, &terms);
        hits.push(ArticleHit {
            article,
            score,
            snippet,
        });
        if hits.len() == limit as usize {
            break;
        }
    }
    Ok(hits)
}

/// About [`SNIPPET_CHARS`] of `body` around the first term found (its start
/// when none is).
fn snippet(body: &str, terms: &[String]) -> String {
    let lower = body.to_lowercase();
    // Lowercasing can change byte lengths; only use a position that is a
    // character boundary of the original too.
    let found = terms
        .iter()
        .filter_map(|t| lower.find(t.as_str()))
        .min()
        .filter(|at| body.is_char_boundary(*at))
        .unwrap_or(0);
    let before = body[..found].chars().rev().take(SNIPPET_CHARS / 4).count();
    let start = body[..found]
        .char_indices()
        .rev()
        .nth(before.saturating_sub(1))
        .map_or(found, |(i, _)| i);
    let text: String = body[start..].chars().take(SNIPPET_CHARS).collect();
    let mut snippet = text.trim().to_owned();
    if start > 0 {
        snippet.insert(0, '…');
    }
    if body[start..].chars().nth(SNIPPET_CHARS).is_some() {
        snippet.push('…');
    }
    snippet
}

/// One live article of the tenant.
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    id: &ArticleId,
) -> Result<Option<ArticleView>, ProjectionError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM kb_articles a WHERE a.tenant = $1 AND a.article_id = $2"
    )))
    .bind(tenant.as_str())
    .bind(id.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(decode).transpose()
}

/// A page of the tenant's live articles (of one category, if given), newest
/// first, and how many there are.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    category: Option<&str>,
    offset: u32,
    limit: u32,
) -> Result<(Vec<ArticleView>, u64), ProjectionError> {
    let filter = if category.is_some() {
        "a.tenant = $1 AND a.category = $2"
    } else {
        "a.tenant = $1 AND $2 IS NULL"
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM kb_articles a WHERE {filter} \
         ORDER BY a.updated_at DESC, a.article_id LIMIT $3 OFFSET $4"
    )))
    .bind(tenant.as_str())
    .bind(category)
    .bind(i64::from(limit.clamp(1, MAX_LIMIT)))
    .bind(i64::from(offset))
    .fetch_all(db.pool())
    .await?;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM kb_articles a WHERE {filter}"
    )))
    .bind(tenant.as_str())
    .bind(category)
    .fetch_one(db.pool())
    .await?;
    let articles = rows.iter().map(decode).collect::<Result<_, _>>()?;
    Ok((articles, u64::try_from(total).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_shows_the_first_match_in_context() {
        let body = format!(
            "{} The password is reset in Settings. {}",
            "x".repeat(300),
            "y".repeat(300)
        );
        let s = snippet(&body, &["password".into()]);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("The password is reset"), "{s}");
        assert!(s.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(snippet("Short body.", &["none".into()]), "Short body.");
    }
}
