-- Shared by every scenario script: prints one machine-readable line when wrk
-- finishes, so bench/run never has to scrape wrk's human-readable summary.
--
--   BENCH_JSON {"requests":..,"duration_us":..,"non_2xx":..,"errors":{..},"latency_us":{..}}
--
-- "non_2xx" is wrk's summary.errors.status: responses with status >= 400.
-- (The benchmarked endpoints never redirect, so no 3xx can hide there; a
-- response() callback would count exactly but makes wrk parse every response
-- and slows the load generator, which shares the 2 cores with the server.)
-- Latencies above wrk's --timeout are not recorded and count as "timeout".
-- "window" (password-login only): requests and non-2xx (exact, 3xx included)
-- completed after the warm-up mark; see window.lua. "flows" (factor-flow.lua):
-- the second-factor flows completed after that mark, instead of requests.

function done(summary, latency, requests)
   local e = summary.errors
   -- Scenarios that load window.lua also report their post-warm-up counts.
   local window = ""
   if window_totals then
      window = string.format(',"window":{"requests":%d,"non_2xx":%d,"skip_s":%g}', window_totals())
   elseif flow_totals then
      window = ',"flows":' .. flow_totals()
   end
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non_2xx":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"mean":%.1f,"max":%d}%s}\n',
      summary.requests, summary.duration, summary.bytes, e.status,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max, window))
end
