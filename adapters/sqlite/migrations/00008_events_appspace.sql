-- Reads of one appspace's part of the log (the events endpoint, its follow
-- mode, webhook replay) filter on a stream prefix. A prefix test cannot use
-- an index, so each read scanned the whole log, every appspace's events.
-- Streams are "<appspace>:<rest>": this index keys each event by the part
-- up to the first ':' and then by position, so "the appspace's events after
-- a position, in order" is a range of it. read.go writes the same
-- expression, which SQLite must see verbatim to use the index.

-- +goose Up
CREATE INDEX events_appspace ON events (substr(stream, 1, instr(stream, ':')), position);

-- +goose Down
DROP INDEX events_appspace;
