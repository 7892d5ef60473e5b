-- Call rooms: one row per session (a room's calls are numbered 1, 2, …).
CREATE TABLE calls (
    tenant     TEXT    NOT NULL,
    room_name  TEXT    NOT NULL,
    session    BIGINT  NOT NULL,
    status     TEXT    NOT NULL, -- 'active' or 'ended'
    started_by TEXT    NOT NULL,
    started_at TEXT    NOT NULL,
    ended_at   TEXT,
    PRIMARY KEY (tenant, room_name, session)
);

-- Everyone who took part in a session; kept after they leave.
CREATE TABLE call_participants (
    tenant       TEXT    NOT NULL,
    room_name    TEXT    NOT NULL,
    session      BIGINT  NOT NULL,
    user_id      TEXT    NOT NULL,
    user_name    TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    joined_at    TEXT    NOT NULL,
    left_at      TEXT,
    leave_reason TEXT,
    PRIMARY KEY (tenant, room_name, session, user_id)
);

CREATE INDEX call_participants_by_user
    ON call_participants (tenant, room_name, user_id);

-- Transcript segments, in log order.
CREATE TABLE call_transcript_segments (
    tenant      TEXT    NOT NULL,
    room_name   TEXT    NOT NULL,
    session     BIGINT  NOT NULL,
    position    BIGINT  NOT NULL,
    user_id     TEXT    NOT NULL,
    user_name   TEXT    NOT NULL,
    speaker     TEXT    NOT NULL,
    content     TEXT    NOT NULL,
    is_final    BIGINT  NOT NULL, -- 1 or 0 (one type on both engines)
    confidence  DOUBLE PRECISION,
    recorded_at TEXT    NOT NULL,
    PRIMARY KEY (tenant, room_name, position)
);

-- Steps of agent swarm sessions, numbered per session.
CREATE TABLE swarm_steps (
    tenant      TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    sequence    BIGINT  NOT NULL,
    position    BIGINT  NOT NULL,
    step        TEXT    NOT NULL, -- the JSON object as posted
    posted_by   TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    PRIMARY KEY (tenant, session_id, sequence)
);
