-- request-otp: ask for an email code for an existing user; the server stores
-- the code and mails it (bench/run points both servers at its SMTP sink and
-- counts what arrives). Both servers keep at most 10 live codes per user and
-- past that answer without sending, so the requests take the seeded users in
-- turn: BENCH_OTP_EMAIL (a format with one %d) for 0 .. BENCH_OTP_USERS - 1,
-- starting at BENCH_OTP_OFFSET (where the previous run stopped).
--   BENCH_OTP_EMAIL='bench-otp-%05d@example.com' BENCH_OTP_USERS=300 \
--   wrk -t1 -c8 -d10s -s bench/wrk/request-otp.lua \
--       http://127.0.0.1:8090/api/collections/users/request-otp
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local address = assert(os.getenv("BENCH_OTP_EMAIL"), "BENCH_OTP_EMAIL not set")
local users = tonumber((assert(os.getenv("BENCH_OTP_USERS"), "BENCH_OTP_USERS not set")))
local cursor = tonumber(os.getenv("BENCH_OTP_OFFSET") or "0")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
   local body = '{"email":"' .. string.format(address, cursor % users) .. '"}'
   cursor = cursor + 1
   return wrk.format(nil, nil, nil, body)
end
