-- ledger_append appends to one or more streams in one statement: one round
-- trip, atomic, with its plans cached per session. Each stream's part checks
-- its expected revision (-1: any revision, after taking the stream's
-- transaction lock so that writers with "any" queue instead of racing) and
-- takes the versions after the stream's current one. A mismatch raises
-- SQLSTATE RL001; a lost race raises the unique violation of
-- events_stream_version_key. Events are flattened across parts:
-- p_counts[i] of them belong to p_streams[i]. Empty data is stored as NULL.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION ledger_append(
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

-- +goose Down
DROP FUNCTION ledger_append(text[], bigint[], int[], text[], text[], text[], text[]);
