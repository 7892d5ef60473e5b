-- Channels, edits, deletions, reactions and read state.
--
-- Read models are derived data: rather than alter them in place, they are
-- recreated with a `kind` column (conversation or channel) in every key,
-- and their checkpoints are reset, so the projector rebuilds them from the
-- event log on the next start. The event log itself is untouched.

DROP TABLE conversation_messages;
DROP TABLE conversation_participants;
DROP TABLE conversation_list;
DELETE FROM projection_checkpoints
    WHERE name IN ('conversation_messages', 'conversation_list');

-- Messages per conversation or channel, in log order: history, rejoin and
-- paging. A deleted message stays as a tombstone (`deleted_at` set,
-- content emptied). `changed_position` is the log position of the newest
-- edit, deletion or reaction: rejoin finds what changed since its cursor.
CREATE TABLE conversation_messages (
    tenant           TEXT   NOT NULL,
    kind             TEXT   NOT NULL,
    conversation_id  TEXT   NOT NULL,
    position         INTEGER NOT NULL,
    message_id       TEXT   NOT NULL,
    author_id        TEXT   NOT NULL,
    author_name      TEXT   NOT NULL,
    author_role      TEXT   NOT NULL,
    content          TEXT   NOT NULL,
    content_type     TEXT   NOT NULL,
    optimistic_id    TEXT,
    thread_id        TEXT,
    mentions         TEXT   NOT NULL,
    metadata         TEXT,
    reactions        TEXT   NOT NULL,
    created_at       TEXT   NOT NULL,
    updated_at       TEXT   NOT NULL,
    edited_at        TEXT,
    deleted_at       TEXT,
    deleted_by       TEXT,
    deleted_by_name  TEXT,
    changed_position INTEGER,
    changed_at       TEXT,
    PRIMARY KEY (tenant, kind, conversation_id, position)
);

CREATE UNIQUE INDEX conversation_messages_by_id
    ON conversation_messages (tenant, kind, conversation_id, message_id);

CREATE INDEX conversation_messages_by_change
    ON conversation_messages (tenant, kind, conversation_id, changed_position)
    WHERE changed_position IS NOT NULL;

-- Where each reader's marker stands, per conversation or channel.
CREATE TABLE read_state (
    tenant               TEXT   NOT NULL,
    kind                 TEXT   NOT NULL,
    conversation_id      TEXT   NOT NULL,
    user_id              TEXT   NOT NULL,
    last_read_message_id TEXT   NOT NULL,
    last_read_position   INTEGER NOT NULL,
    read_at              TEXT   NOT NULL,
    PRIMARY KEY (tenant, kind, conversation_id, user_id)
);

-- The conversation and channel list per tenant.
CREATE TABLE conversation_list (
    tenant           TEXT   NOT NULL,
    kind             TEXT   NOT NULL,
    conversation_id  TEXT   NOT NULL,
    opened_by        TEXT   NOT NULL,
    opened_at        TEXT   NOT NULL,
    message_count    INTEGER NOT NULL,
    last_message_at  TEXT,
    last_activity_at TEXT   NOT NULL,
    name             TEXT,
    description      TEXT,
    topic            TEXT,
    PRIMARY KEY (tenant, kind, conversation_id)
);

CREATE INDEX conversation_list_by_activity
    ON conversation_list (tenant, kind, last_activity_at, conversation_id);

-- Current participants of each listed conversation or channel.
CREATE TABLE conversation_participants (
    tenant          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    role            TEXT NOT NULL,
    joined_at       TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, conversation_id, user_id)
);

CREATE INDEX conversation_participants_by_user
    ON conversation_participants (tenant, user_id);
