-- authed-list-rule / authed-list-open: a signed-in user lists a collection
-- (one page). bench/run points it at `members` (a non-trivial listRule) and at
-- `members_open` (listRule ""): same records, so the difference is the rule.
-- The collection and perPage are in the URL given to wrk.
--   BENCH_TOKEN=eyJ... wrk -t1 -c64 -d10s -s bench/wrk/authed-list.lua \
--       'http://127.0.0.1:8090/api/collections/members/records?perPage=20'
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN not set")
