-- ledger_append (migration 00003) no longer reads the revision of a stream
-- that a part expects to be new: inserting its version 1 checks that, as
-- the unique constraint events_stream_version_key, whose violation the
-- store already takes for a lost race (ErrConcurrency, then a look for a
-- retry). Most parts of a command's append are new streams (the referral a
-- create issues, a new referrer, a referee's guard), so this saves a
-- statement per part on the command path.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_append(
    p_streams text[], p_expected bigint[], p_counts int[],
    p_ids text[], p_types text[], p_data text[], p_metadata text[])
RETURNS TABLE (next_version bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cur bigint;
    k int := 0;
BEGIN
    FOR i IN 1 .. cardinality(p_streams) LOOP
        IF p_expected[i] < 0 THEN
            PERFORM pg_advisory_xact_lock(1919706468, hashtext(p_streams[i]));
        END IF;
        IF p_expected[i] = 0 THEN
            -- A new stream: the unique violation of version 1 is the check.
            cur := 0;
        ELSE
            SELECT e.version INTO cur FROM events e WHERE e.stream = p_streams[i] ORDER BY e.version DESC LIMIT 1;
            cur := COALESCE(cur, 0);
        END IF;
        IF p_expected[i] > 0 AND cur <> p_expected[i] THEN
            RAISE EXCEPTION 'stream % is at revision %, expected %', p_streams[i], cur, p_expected[i]
                USING ERRCODE = 'RL001';
        END IF;
        -- One plain INSERT per event: plpgsql caches its plan, and it costs
        -- far less than a set-returning insert.
        FOR j IN 1 .. p_counts[i] LOOP
            k := k + 1;
            cur := cur + 1;
            INSERT INTO events (stream, version, id, type, data, metadata)
            VALUES (p_streams[i], cur, p_ids[k], p_types[k], NULLIF(p_data[k], '')::json, NULLIF(p_metadata[k], '')::json)
            RETURNING position INTO last_position;
        END LOOP;
        next_version := cur;
        RETURN NEXT;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION ledger_append(
    p_streams text[], p_expected bigint[], p_counts int[],
    p_ids text[], p_types text[], p_data text[], p_metadata text[])
RETURNS TABLE (next_version bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cur bigint;
    k int := 0;
BEGIN
    FOR i IN 1 .. cardinality(p_streams) LOOP
        IF p_expected[i] < 0 THEN
            PERFORM pg_advisory_xact_lock(1919706468, hashtext(p_streams[i]));
        END IF;
        SELECT e.version INTO cur FROM events e WHERE e.stream = p_streams[i] ORDER BY e.version DESC LIMIT 1;
        cur := COALESCE(cur, 0);
        IF p_expected[i] >= 0 AND cur <> p_expected[i] THEN
            RAISE EXCEPTION 'stream % is at revision %, expected %', p_streams[i], cur, p_expected[i]
                USING ERRCODE = 'RL001';
        END IF;
        -- One plain INSERT per event: plpgsql caches its plan, and it costs
        -- far less than a set-returning insert.
        FOR j IN 1 .. p_counts[i] LOOP
            k := k + 1;
            cur := cur + 1;
            INSERT INTO events (stream, version, id, type, data, metadata)
            VALUES (p_streams[i], cur, p_ids[k], p_types[k], NULLIF(p_data[k], '')::json, NULLIF(p_metadata[k], '')::json)
            RETURNING position INTO last_position;
        END LOOP;
        next_version := cur;
        RETURN NEXT;
    END LOOP;
END
$$;
-- +goose StatementEnd
