-- 008: errors are deleted after sync.error_retention (the daemon, once an
-- hour, in batches); this index finds the old ones without reading the rest.

CREATE INDEX error_at_idx ON bb.error (at);
