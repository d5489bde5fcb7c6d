-- Fixed-window counters (rate limits, failed logins), shared by every instance on this database.
CREATE TABLE counters (
    key          TEXT PRIMARY KEY,
    window_end   BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
CREATE INDEX counters_window_end ON counters (window_end);
