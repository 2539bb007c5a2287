-- wrk script for Benchmarks/mock.sh: POST a small chat request; MOCK_STREAM=1 asks for a 50-chunk SSE stream.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
local stream = os.getenv("MOCK_STREAM") == "1"
if stream then
  wrk.headers["X-Mock-Chunks"] = os.getenv("MOCK_CHUNKS") or "50"
  wrk.body = '{"model":"kimi-k2-turbo-preview","stream":true,"messages":[{"role":"user","content":"Hello, Kimi. 你好"}]}'
else
  wrk.body = '{"model":"kimi-k2-turbo-preview","messages":[{"role":"user","content":"Hello, Kimi. 你好"}]}'
end
-- No `response` callback on purpose: with one, wrk hands every response body to Lua, which costs wrk (on the same
-- 2 cores as the server) a large share of its CPU. wrk counts non-2xx responses by itself ("Non-2xx").
