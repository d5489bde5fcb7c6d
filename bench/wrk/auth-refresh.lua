-- auth-refresh: verify a token, reload its record, sign a fresh token.
-- PocketBase's API takes the raw token in Authorization (no "Bearer ").
--   BENCH_TOKEN=eyJ... wrk -t1 -c64 -d10s -s bench/wrk/auth-refresh.lua \
--       http://127.0.0.1:8090/api/collections/users/auth-refresh
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

wrk.method = "POST"
wrk.headers["Authorization"] = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN not set")
-- An empty body still sends "Content-Length: 0", as browsers and SDKs do.
wrk.body = ""
