-- authed-read: the owner reads their own record (users viewRule
-- "id = @request.auth.id"): token check + one record lookup + rule check.
-- The record id is in the URL given to wrk.
--   BENCH_TOKEN=eyJ... wrk -t1 -c64 -d10s -s bench/wrk/authed-read.lua \
--       http://127.0.0.1:8090/api/collections/users/records/RECORD_ID
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN not set")
