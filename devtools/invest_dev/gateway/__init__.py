"""`invest serve`: the HTTP API of template.yaml on this machine, without Docker.

It stands in for API Gateway (HTTP API, payload 2.0) in front of Lambda: routes matched with API
Gateway's precedence (`routing`) become payload-2.0 events (`request`); each function runs in worker
processes of its own that serve one invocation at a time, as Lambda containers do (`containers`,
`worker`, `pool`); rate limits share one store (`rate_limits`); answers become HTTP responses or
API Gateway's 502 (`responses`); the server and `serve()` are `server`. What it emulates, and how:
docs/development.md#the-local-gateway.
"""
