-- Support conversations (projection `support_conversations`): one row per
-- conversation, the chatbot seed's `IConversation` without its messages.
-- Times are RFC 3339 text (they sort as text); `metadata` is a JSON object.
CREATE TABLE support_conversations (
    tenant                 TEXT    NOT NULL,
    conversation_id        TEXT    NOT NULL,
    chatbot_id             TEXT,
    session_id             TEXT,
    user_id                TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    assigned_agent_id      TEXT,
    assigned_agent_name    TEXT,
    metadata               TEXT    NOT NULL,
    user_agent             TEXT,
    ip_address             TEXT,
    referrer               TEXT,
    created_at             TEXT    NOT NULL,
    last_activity_at       TEXT    NOT NULL,
    queued_at              TEXT,
    agent_assigned_at      TEXT,
    ended_at               TEXT,
    end_reason             TEXT,
    message_count          BIGINT  NOT NULL,
    ai_message_count       BIGINT  NOT NULL,
    agent_message_count    BIGINT  NOT NULL,
    queue_time_seconds     BIGINT,
    handle_time_seconds    BIGINT,
    first_response_seconds BIGINT,
    rating                 TEXT,
    rating_comment         TEXT,
    PRIMARY KEY (tenant, conversation_id)
);

-- List filters (newest first) and the queue (oldest queued first).
CREATE INDEX support_conversations_by_status
    ON support_conversations (tenant, status, queued_at);
CREATE INDEX support_conversations_by_agent
    ON support_conversations (tenant, assigned_agent_id, status);
CREATE INDEX support_conversations_by_created
    ON support_conversations (tenant, created_at);
-- Recent handle times for the queue's estimated waits.
CREATE INDEX support_conversations_by_end
    ON support_conversations (tenant, ended_at);
-- The idle scan runs across tenants, over conversations still going.
CREATE INDEX support_conversations_idle
    ON support_conversations (last_activity_at)
    WHERE status NOT IN ('ended', 'closed');

-- Robot suggestions are kept from customers until staff share them
-- (1 or 0: one type on both engines). No message was hidden before.
ALTER TABLE conversation_messages ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;
