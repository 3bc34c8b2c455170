-- paygate-bench's wrk script (see wrk.go). Its arguments, after "--":
--   fixed <token>                      GET with one bearer token
--   tokens <file>                      GET with the next token of file (one
--                                      a line) on each request
--   post <token> <key prefix> <body>   POST body as JSON with one bearer
--                                      token and a new Idempotency-Key (the
--                                      prefix and a counter) on each request
--   replay <token> <key> <body>        the same POST with one Idempotency-Key,
--                                      whose request has completed: every
--                                      request is a replay
-- done() prints one line: "paygate-bench-result " and a JSON object. Its
-- status errors are the non-2xx responses (wrk's own count is of those
-- above 399); token_wraps counts the times the token file ran out and its
-- tokens were sent again.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local mode = args[1]
   wraps, non2xx = 0, 0
   if mode == "fixed" then
      wrk.headers["Authorization"] = "Bearer " .. args[2]
      local req = wrk.format()
      request = function()
         return req
      end
   elseif mode == "tokens" then
      local tokens = {}
      for line in io.lines(args[2]) do
         tokens[#tokens + 1] = line
      end
      if #tokens == 0 then
         error("no token in " .. args[2])
      end
      local i = 0
      request = function()
         i = i + 1
         if i > #tokens then
            i, wraps = 1, wraps + 1
         end
         wrk.headers["Authorization"] = "Bearer " .. tokens[i]
         return wrk.format()
      end
   elseif mode == "post" or mode == "replay" then
      wrk.method = "POST"
      wrk.body = args[4]
      wrk.headers["Authorization"] = "Bearer " .. args[2]
      wrk.headers["Content-Type"] = "application/json"
      if mode == "replay" then
         wrk.headers["Idempotency-Key"] = args[3]
         local req = wrk.format()
         request = function()
            return req
         end
      else
         local prefix, n = args[3], 0
         request = function()
            n = n + 1
            wrk.headers["Idempotency-Key"] = prefix .. n
            return wrk.format()
         end
      end
   else
      error("unknown mode " .. tostring(mode))
   end
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

function done(summary, latency, requests)
   local w, s = 0, 0
   for _, t in ipairs(threads) do
      w = w + t:get("wraps")
      s = s + t:get("non2xx")
   end
   local e = summary.errors
   io.write(string.format(
      'paygate-bench-result {"requests":%d,"duration_us":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%.0f,"p99":%.0f,"p999":%.0f},"token_wraps":%d}\n',
      summary.requests, summary.duration,
      e.connect, e.read, e.write, s, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), w))
end
