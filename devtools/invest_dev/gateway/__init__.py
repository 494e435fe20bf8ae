"""`invest serve`: the HTTP API of template.yaml on this machine, without Docker.

It stands in for API Gateway (HTTP API, payload format 2.0) in front of Lambda:

- Each function's HttpApi routes are matched with API Gateway's precedence (`routing`): a path of
  static segments before one with `{parameters}`, those before a greedy `{proxy+}`, a method before
  `ANY`, and `$default` for whatever matches nothing. The request becomes a payload-2.0 event
  (`request`).
- Each function runs in worker processes of its own ("containers", `containers` and `worker`). A
  container imports the handler once and serves one invocation at a time, as in Lambda: Powertools
  resolvers keep the current event in class attributes, so two requests must never share a process
  at once. A function's pool (`pool`) starts another container when all of its containers are busy,
  up to a cap. At start-up, one container per function warms up in the background while requests
  are already served.
- With RATE_LIMIT_BACKEND=memory, every container admits requests in one rate-limit store the gateway
  makes for the run (`rate_limits`), so a client's limit holds across functions and containers.
- The function's answer becomes the HTTP response (`responses`). A handler that raises, a malformed
  answer, a container that dies or overruns the function's Timeout all give API Gateway's
  `502 {"message":"Internal Server Error"}`; a container that dies or times out is replaced.
- What containers print goes to the gateway's stdout, except CloudWatch EMF lines (Powertools
  Metrics), which are appended to the metrics file (METRICS_FILE, default .local/metrics.jsonl)
  where the local dashboard reads them. Access log lines go to stderr.

The HTTP server and `serve()` are in `server`.
"""
