-- Reads of one appspace's part of the log (the events endpoint, its follow
-- mode, webhook replay) filter on a stream prefix, which no index served:
-- the planner scanned every appspace's events and sorted the matches.
-- Streams are "<appspace>:<rest>": this index keys each event by the part
-- up to the first ':' and then by commit order, so "the appspace's events
-- after a cursor, in commit order" is a range of it. read.go writes the
-- same expression, which the planner must see verbatim to use the index.

-- +goose Up
CREATE INDEX events_appspace ON events (substr(stream, 1, strpos(stream, ':')), transaction_id, position);

-- +goose Down
DROP INDEX events_appspace;
