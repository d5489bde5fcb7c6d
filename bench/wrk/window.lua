-- Steady-state window for hash-bound scenarios (password-login, and the
-- second-factor flows of factor-flow.lua, which reuse its clock and mark).
--
-- A login costs one password hash, so at c=64 a request waits c / limit
-- seconds (~3 s on PocketBase). Fresh connections therefore start with a
-- transient that long, and a server that shares the cores fairly among all
-- in-flight hashes completes *nothing* until it ends. A separate warm-up run
-- doesn't help (its connections close, the transient restarts), so login
-- points run as ONE wrk process: the first BENCH_SKIP_SECONDS are the
-- warm-up, and only responses completed after that are counted here.
-- bench/run samples the server's CPU at the same mark.
--
-- This needs response(), which makes wrk parse every response: fine at login
-- rates, too costly for the fast scenarios, which use a separate warm-up run.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec_t;
int clock_gettime(int clk_id, bench_timespec_t *tp);
]]
local ts = ffi.new("bench_timespec_t")
-- Global, for the scripts that load this one.
function window_now()
   ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
   return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local now_s = window_now

window_skip = tonumber(os.getenv("BENCH_SKIP_SECONDS") or "0")
local skip = window_skip
window_threads = {}
local threads = window_threads

function setup(thread)
   threads[#threads + 1] = thread
end

local started
function init(args)
   started = now_s()
   -- Globals, so done() can read them back with thread:get().
   window_requests, window_non_2xx = 0, 0
end

function response(status, headers, body)
   if now_s() - started >= skip then
      window_requests = window_requests + 1
      if status < 200 or status > 299 then
         window_non_2xx = window_non_2xx + 1
      end
   end
end

-- Called by report.lua's done().
function window_totals()
   local n, bad = 0, 0
   for _, t in ipairs(threads) do
      n = n + t:get("window_requests")
      bad = bad + t:get("window_non_2xx")
   end
   return n, bad, skip
end
