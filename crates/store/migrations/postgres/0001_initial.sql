-- servicetask-store, PostgreSQL, version 1: deployments, instances, jobs, history.
CREATE TABLE deployments (
    id          TEXT PRIMARY KEY,
    file        TEXT NOT NULL,
    content     BYTEA NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE TABLE deployment_processes (
    process_id     TEXT NOT NULL,
    version        BIGINT NOT NULL,
    deployment_id  TEXT NOT NULL REFERENCES deployments(id),
    PRIMARY KEY (process_id, version)
);
CREATE TABLE instances (
    id             TEXT PRIMARY KEY,
    deployment_id  TEXT NOT NULL REFERENCES deployments(id),
    process_id     TEXT NOT NULL,
    business_key   TEXT,
    state          TEXT NOT NULL,
    revision       BIGINT NOT NULL,
    snapshot       TEXT NOT NULL,
    saved_at_ms    BIGINT NOT NULL,
    wake_at_ms     BIGINT,
    created_ms     BIGINT NOT NULL
);
CREATE INDEX instances_state ON instances(state);
CREATE INDEX instances_business_key ON instances(business_key) WHERE business_key IS NOT NULL;
CREATE INDEX instances_wake ON instances(wake_at_ms) WHERE wake_at_ms IS NOT NULL;
CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    instance_id     TEXT NOT NULL,
    deployment_id   TEXT NOT NULL,
    spec            TEXT NOT NULL,
    created_ms      BIGINT NOT NULL,
    leases          BIGINT NOT NULL DEFAULT 0,
    lease_owner     TEXT,
    lease_token     TEXT,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_instance ON jobs(instance_id);
CREATE INDEX jobs_lease ON jobs(lease_until_ms, id);
CREATE TABLE history (
    id           BIGSERIAL PRIMARY KEY,
    instance_id  TEXT NOT NULL,
    at_ms        BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    element_id   TEXT,
    detail       TEXT
);
CREATE INDEX history_instance ON history(instance_id, id);
