-- Widget and API keys (projection `access_keys`). Only the SHA-256 of a
-- key's secret is kept. Key ids are drawn at random and looked up without
-- a tenant (a presented key names none), hence the key of their own.
CREATE TABLE access_keys (
    key_id      TEXT NOT NULL PRIMARY KEY,
    tenant      TEXT NOT NULL,
    kind        TEXT NOT NULL, -- 'widget' or 'api'
    chatbot_id  TEXT,          -- widget keys only
    secret_hash TEXT NOT NULL, -- hex SHA-256 of the secret
    prefix      TEXT NOT NULL, -- what people see of the key
    label       TEXT,
    issued_by   TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    revoked_by  TEXT,
    revoked_at  TEXT
);

-- An admin lists the keys of their tenant.
CREATE INDEX access_keys_by_tenant ON access_keys (tenant, issued_at);
