-- oauth2-code: auth-with-oauth2 with a fresh code each request, the users of a fixed set
-- in turn (bench/oauth2.py signs them all up first, so every request here is a sign-in of
-- an already-linked user). The stand-in provider (bench/oauth2_provider.mjs) accepts any
-- code `bench-N-<suffix>` for user N; BENCH_OAUTH2_TAG makes the suffixes of one run
-- differ from every other run's.
--   BENCH_OAUTH2_USERS=200 BENCH_OAUTH2_TAG=r1 \
--   wrk -t1 -c8 -d10s -s bench/wrk/oauth2-code.lua \
--       http://127.0.0.1:8090/api/collections/users/auth-with-oauth2
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local users = tonumber((assert(os.getenv("BENCH_OAUTH2_USERS"), "BENCH_OAUTH2_USERS not set")))
local tag = assert(os.getenv("BENCH_OAUTH2_TAG"), "BENCH_OAUTH2_TAG not set")
local provider = os.getenv("BENCH_OAUTH2_PROVIDER") or "gitlab"
-- PKCE's verifier: 43 to 128 characters; the stand-in provider does not check it.
local verifier = "bench-code-verifier-0123456789abcdefghijklmnopqrstuvwxyz"
local redirect = "http://127.0.0.1/oauth2-redirect"
local cursor = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function request()
   local body = string.format(
      '{"provider":"%s","code":"bench-%d-%s%d","codeVerifier":"%s","redirectURL":"%s"}',
      provider, cursor % users, tag, cursor, verifier, redirect)
   cursor = cursor + 1
   return wrk.format(nil, nil, nil, body)
end
