-- password-login: every request is a full password check (one hash verify).
-- BENCH_SKIP_SECONDS (optional) excludes a warm-up from the counts: window.lua.
--   BENCH_IDENTITY=u@example.com BENCH_PASSWORD=secret123 BENCH_SKIP_SECONDS=2 \
--   wrk -t1 -c8 -d12s -s bench/wrk/password-login.lua \
--       http://127.0.0.1:8090/api/collections/users/auth-with-password
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
dofile(dir .. "window.lua")

-- Minimal JSON string escaping: the harness seeds plain ASCII credentials.
local function json_string(s)
   return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

local identity = assert(os.getenv("BENCH_IDENTITY"), "BENCH_IDENTITY not set")
local password = assert(os.getenv("BENCH_PASSWORD"), "BENCH_PASSWORD not set")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"identity":' .. json_string(identity) ..
           ',"password":' .. json_string(password) .. '}'
