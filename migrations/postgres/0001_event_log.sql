-- The append-only event log. `position` is the global order. Positions are
-- handed out under one serialized writer (see store/src/writer.rs), so a
-- reader that sees position N has already seen every position below N.
-- Payloads are stored as the exact text that was written (TEXT, not JSONB),
-- so the bytes an auditor hashes are the bytes the writer produced;
-- `payload::jsonb` gives analysts JSON operators.
CREATE TABLE events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id      TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    event_id       TEXT   NOT NULL UNIQUE,
    event_type     TEXT   NOT NULL,
    schema_version BIGINT NOT NULL,
    tenant         TEXT   NOT NULL,
    payload        TEXT   NOT NULL,
    metadata       TEXT   NOT NULL,
    recorded_at    TEXT   NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_by_tenant ON events (tenant, position);

CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END
$$;

CREATE TRIGGER events_are_never_updated_or_deleted
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_are_never_truncated
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Aggregate snapshots: a cache of state at a stream version, never the truth.
CREATE TABLE snapshots (
    stream_id      TEXT   PRIMARY KEY,
    aggregate_type TEXT   NOT NULL,
    stream_version BIGINT NOT NULL,
    state          TEXT   NOT NULL,
    taken_at       TEXT   NOT NULL
);
