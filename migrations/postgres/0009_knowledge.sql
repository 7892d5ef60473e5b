-- The knowledge base (projection `kb_articles`): one row per live article,
-- with a weighted full-text vector (title A, tags B, body C) for ranking.
CREATE TABLE kb_articles (
    tenant      TEXT    NOT NULL,
    article_id  TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    title       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    category    TEXT,
    tags        TEXT    NOT NULL, -- JSON array of lowercase strings
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    search      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', tags), 'B')
        || setweight(to_tsvector('english', body), 'C')
    ) STORED,
    PRIMARY KEY (tenant, article_id)
);

CREATE INDEX kb_articles_by_category ON kb_articles (tenant, category, updated_at);
CREATE INDEX kb_articles_search ON kb_articles USING GIN (search);
