-- The knowledge base (projection `kb_articles`): one row per live article,
-- and a full-text index over title, tags and body ranked with BM25. The
-- projection keeps both in step (FTS5 has no foreign keys).
CREATE TABLE kb_articles (
    tenant      TEXT    NOT NULL,
    article_id  TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    category    TEXT,
    tags        TEXT    NOT NULL, -- JSON array of lowercase strings
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    PRIMARY KEY (tenant, article_id)
);

CREATE INDEX kb_articles_by_category ON kb_articles (tenant, category, updated_at);

CREATE VIRTUAL TABLE kb_articles_fts USING fts5(
    tenant UNINDEXED,
    article_id UNINDEXED,
    title,
    tags,
    body,
    tokenize = 'porter unicode61'
);
