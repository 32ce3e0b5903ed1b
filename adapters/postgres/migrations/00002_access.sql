-- +goose Up
CREATE TABLE appspaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL -- unix milliseconds
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    appspace_id TEXT NOT NULL REFERENCES appspaces (id),
    name        TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL,
    scopes      TEXT NOT NULL, -- space-separated
    secret_hash BYTEA NOT NULL, -- SHA-256 of the secret part of the key
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_appspace ON api_keys (appspace_id);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE appspaces;
