-- mfa-flow-totp / backup-code: a whole second-factor login per iteration.
--   1. POST <collection>/auth-with-password {identity, password}
--      -> 401 {"mfaId", "methods"} offering BENCH_FLOW_FACTOR;
--   2. POST <collection>/auth-with-totp or /auth-with-backup-code {mfaId, code}
--      -> 200 with a token.
-- Run with one thread per connection (-t c -c c): wrk tells request() and
-- response() nothing about the connection, so the flow's state is the thread's.
--
-- The jobs come from bench/run, which owns the pools (no HMAC here): the file
-- BENCH_FLOW_JOBS has one job a line, "<thread> <address> <code>", threads
-- numbered from 1; each thread runs its own jobs in file order, once each
-- (bench/run gives no user to two threads, and a user's TOTP steps in rising
-- order). A thread whose jobs run out stops sending; the flows then count
-- until the first thread ran out, and done() says so ("ran_out").
--
-- One process, warm-up included, as for password-login (window.lua): flows
-- completed after BENCH_SKIP_SECONDS count. report.lua's BENCH_JSON line gets
-- a "flows" object: counts, per-flow latency percentiles, per-step means.
--   BENCH_FLOW_JOBS=/tmp/jobs BENCH_FLOW_FACTOR=totp BENCH_FLOW_PASSWORD=secret123 \
--   BENCH_SKIP_SECONDS=2 wrk -t8 -c8 -d12s -s bench/wrk/factor-flow.lua \
--       http://127.0.0.1:8090/api/collections/factor_users
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
dofile(dir .. "window.lua")
-- Flows are counted here, not responses (a flow's 401 is expected).
window_totals = nil

local factor = assert(os.getenv("BENCH_FLOW_FACTOR"), "BENCH_FLOW_FACTOR not set")
local second_path = ({totp = "/auth-with-totp", backupCode = "/auth-with-backup-code"})[factor]
assert(second_path, "BENCH_FLOW_FACTOR must be totp or backupCode")
local jobs_file = assert(os.getenv("BENCH_FLOW_JOBS"), "BENCH_FLOW_JOBS not set")
local password = assert(os.getenv("BENCH_FLOW_PASSWORD"), "BENCH_FLOW_PASSWORD not set")
local now_s = window_now
-- Unexpected answers kept for the log, per thread (responses only: never a code).
local KEEP_FAILURES = 3

-- Minimal JSON string escaping (addresses, codes, ids, answers' beginnings).
local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c)
      if c == '"' or c == '\\' then return '\\' .. c end
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- Main state: number the threads and give them the same mark.
local mark
function setup(thread)
   window_threads[#window_threads + 1] = thread
   mark = mark or now_s() + window_skip
   thread:set("flow_thread", #window_threads)
   thread:set("flow_mark", mark)
end

-- Thread state. request() only renders the current step: wrk calls it again
-- after a reconnect, and once more in the first thread before the run (to
-- check the request), so it must not move on. response() moves on.
local jobs, job, step, mfa_id
local flow_start, sent, password_s
local function next_job()
   job, step, mfa_id = job + 1, jobs[job + 1] and "password" or "done", nil
end

function init(args)
   jobs = {}
   local want = tostring(flow_thread)
   for line in io.lines(jobs_file) do
      local t, address, code = line:match("^(%S+) (%S+) (%S+)$")
      if t == want then
         jobs[#jobs + 1] = {address, code}
      end
   end
   job = 0
   next_job()
   -- Globals, so done() can read them back with thread:get(). Per flow completed
   -- after the mark: its end (monotonic s), its seconds, and its steps' seconds
   -- (-1 for a failed flow).
   flow_jobs, flow_ends, flow_seconds, flow_password, flow_second = #jobs, {}, {}, {}, {}
   flow_failures, flow_failed_run, flow_ran_out = {}, 0, false
end

function request()
   sent = now_s()
   if step == "password" then
      flow_start = sent
      return wrk.format(nil, wrk.path .. "/auth-with-password", nil,
         '{"identity":' .. json_string(jobs[job][1]) .. ',"password":' .. json_string(password) .. '}')
   elseif step == "second" then
      return wrk.format(nil, wrk.path .. second_path, nil,
         '{"mfaId":' .. json_string(mfa_id) .. ',"code":' .. json_string(jobs[job][2]) .. '}')
   end
   -- No job left: stop() in response() should have ended the thread already.
   return wrk.format("GET", "/api/health")
end

local function flow_done(t, failure)
   if t >= flow_mark then
      local k = #flow_ends + 1
      flow_ends[k], flow_seconds[k] = t, t - flow_start
      flow_password[k], flow_second[k] = failure and -1 or password_s, failure and -1 or t - sent
   end
   if failure then
      flow_failed_run = flow_failed_run + 1
      if #flow_failures < KEEP_FAILURES then
         flow_failures[#flow_failures + 1] = failure
      end
   end
   next_job()
end

local function failed(what, path, status, body)
   return string.format("%s: POST %s (%s) -> %d %s", what, wrk.path .. path, jobs[job][1], status,
      (body or ""):sub(1, 300))
end

function response(status, headers, body)
   local t = now_s()
   if step == "password" then
      local id = status == 401 and body:match('"mfaId"%s*:%s*"([^"]+)"')
      if id and body:find('"type"%s*:%s*"' .. factor .. '"') then
         step, mfa_id, password_s = "second", id, t - sent
         return
      end
      flow_done(t, failed("expected 401 with mfaId and method " .. factor, "/auth-with-password", status, body))
   elseif step == "second" then
      if status == 200 and body:find('"token"%s*:%s*"[^"]') then
         flow_done(t)
      else
         flow_done(t, failed("expected 200 with token", second_path, status, body))
      end
   end
   if step == "done" then
      if not flow_ran_out then
         flow_ran_out = t
      end
      wrk.thread:stop()
   end
end

-- Main state, from report.lua's done(): the "flows" object of BENCH_JSON. The
-- window ends when wrk does or, with a thread out of jobs, when the first ran
-- out: "flows" and what follows it are the flows completed inside the window;
-- "flows_after_mark" counts until wrk's end (bench/run reads the server's CPU
-- until then), "failed_run" the failed flows of the whole run, warm-up included;
-- "failures" holds the first few of each thread's.
function flow_totals()
   local finish, ran_out = now_s(), false
   for _, t in ipairs(window_threads) do
      local r = t:get("flow_ran_out")
      if r and r < finish then
         finish, ran_out = r, true
      end
   end
   local seconds, failures = {}, {}
   local ok, password_sum, second_sum, jobs_n, after_mark, failed_run = 0, 0, 0, 0, 0, 0
   for _, t in ipairs(window_threads) do
      local ends, lat = t:get("flow_ends"), t:get("flow_seconds")
      local password_s, second_s = t:get("flow_password"), t:get("flow_second")
      after_mark = after_mark + #ends
      for k = 1, #ends do
         if ends[k] <= finish then
            seconds[#seconds + 1] = lat[k]
            if password_s[k] >= 0 then
               ok, password_sum, second_sum = ok + 1, password_sum + password_s[k], second_sum + second_s[k]
            end
         end
      end
      jobs_n, failed_run = jobs_n + t:get("flow_jobs"), failed_run + t:get("flow_failed_run")
      for _, f in ipairs(t:get("flow_failures")) do
         failures[#failures + 1] = json_string(f)
      end
   end
   local n = #seconds
   table.sort(seconds)
   local function us(x) return math.floor(x * 1e6 + 0.5) end
   local function pct(q)
      return n > 0 and us(seconds[math.min(n, math.floor(q / 100 * n) + 1)]) or 0
   end
   local mean = 0
   for _, x in ipairs(seconds) do mean = mean + x end
   mean = n > 0 and mean / n * 1e6 or 0
   local function step_ms(sum) return ok > 0 and string.format("%.3f", sum / ok * 1000) or "null" end
   return string.format(
      '{"flows":%d,"ok":%d,"failed":%d,"duration_us":%d,"flows_after_mark":%d,"failed_run":%d,"jobs":%d,' ..
      '"ran_out":%s,"skip_s":%g,"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d},' ..
      '"step_ms":{"password":%s,"second":%s},"failures":[%s]}',
      n, ok, n - ok, math.max(0, us(finish - mark)), after_mark, failed_run, jobs_n,
      tostring(ran_out), window_skip, pct(50), pct(90), pct(99), mean, n > 0 and us(seconds[n]) or 0,
      step_ms(password_sum), step_ms(second_sum), table.concat(failures, ","))
end
