-- Where each projection has got to. Written in the same transaction as the
-- projection's read-model changes.
CREATE TABLE projection_checkpoints (
    name       TEXT   PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at TEXT   NOT NULL
);

-- Messages per conversation, in log order: history, rejoin and paging.
CREATE TABLE conversation_messages (
    tenant          TEXT   NOT NULL,
    conversation_id TEXT   NOT NULL,
    position        BIGINT NOT NULL,
    message_id      TEXT   NOT NULL,
    author_id       TEXT   NOT NULL,
    author_name     TEXT   NOT NULL,
    author_role     TEXT   NOT NULL,
    content         TEXT   NOT NULL,
    content_type    TEXT   NOT NULL,
    optimistic_id   TEXT,
    thread_id       TEXT,
    mentions        TEXT   NOT NULL,
    created_at      TEXT   NOT NULL,
    updated_at      TEXT   NOT NULL,
    PRIMARY KEY (tenant, conversation_id, position)
);

CREATE UNIQUE INDEX conversation_messages_by_id
    ON conversation_messages (tenant, conversation_id, message_id);

-- The conversation list per tenant.
CREATE TABLE conversation_list (
    tenant           TEXT   NOT NULL,
    conversation_id  TEXT   NOT NULL,
    opened_by        TEXT   NOT NULL,
    opened_at        TEXT   NOT NULL,
    message_count    BIGINT NOT NULL,
    last_message_at  TEXT,
    last_activity_at TEXT   NOT NULL,
    PRIMARY KEY (tenant, conversation_id)
);

CREATE INDEX conversation_list_by_activity
    ON conversation_list (tenant, last_activity_at, conversation_id);

-- Current participants of each listed conversation.
CREATE TABLE conversation_participants (
    tenant          TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    role            TEXT NOT NULL,
    joined_at       TEXT NOT NULL,
    PRIMARY KEY (tenant, conversation_id, user_id)
);

CREATE INDEX conversation_participants_by_user
    ON conversation_participants (tenant, user_id);
