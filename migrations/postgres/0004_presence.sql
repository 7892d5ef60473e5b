-- The current presence of each user per tenant (projection `presence`).
-- last_seen_at is the last sign of life (a change the user caused, or a
-- heartbeat); a timeout does not move it.
CREATE TABLE presence (
    tenant        TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    status        TEXT NOT NULL,
    custom_status TEXT,
    status_text   TEXT,
    updated_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

-- Start-up finds who is still shown as present, across tenants.
CREATE INDEX presence_by_status ON presence (status);
