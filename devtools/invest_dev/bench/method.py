"""How `make bench` measures: the Method section of docs/benchmarks.md, which `report` writes."""

# "--iterations" is replaced by the iteration count of the run.
METHOD = """\
- Everything runs against a temporary SQLite database migrated with Alembic, holding the sample
  accounts of `invest_dev.samples`; events come from `events/<FunctionLogicalId>.json` (`{}` for a
  function without HTTP routes and without an event file), with a fresh bearer token where the event
  has an Authorization header. Settings: ENVIRONMENT=dev, real argon2 parameters, tracing off.
- Success paths: where the sample event refers to rows the database lacks, or succeeds only once (a
  registration, a refresh token, a password change, a signed webhook delivery), a preparer of
  `invest_dev/bench/prepare.py` seeds what it needs through the layer's services and gives each
  invocation its event (a new email, a refresh token issued for it, a fresh signature...). Preparing
  is never timed. The notes under the table say what each preparer does.
- Cold start without SnapStart: a fresh interpreter per run that imports the function's module
  (layer included), builds what it builds at import time and answers its event, then exits at once
  (no interpreter teardown). It sees only what Lambda would: the function's directory, the layer's
  source and its pinned requirements plus what the runtime ships (pyproject's `aws` extra),
  installed into `.local/bench-runtime/`, with `python -S` (no site-packages, no dev tools), all
  with compiled bytecode as `make build` ships it (`compile_bytecode()` writes it first). Wall time
  from spawn to exit; import and first response are timed inside the child. CPU ms is the child's
  user + system time (RUSAGE_CHILDREN), which other work on the machine inflates less than wall
  time. Peak RSS is the child's VmHWM after the first response (`getrusage(RUSAGE_SELF).ru_maxrss`
  would start at the parent's peak: Linux carries it across fork and exec). Beside it, `python -S
  -c pass` on the same interpreter with the same method.
- The reference: `invest_dev/bench/reference_app.py`, the API as the single FastAPI + Mangum app
  that one function per endpoint replaces (one module: SQLAlchemy ORM models, pydantic, PyJWT,
  argon2), serving health, login, list signals and get signal on the same database with the same
  work. It runs with the same method, on its own runtime dependencies only (`.local/bench-reference/`,
  at constraints.txt's pins). Each run of a function is paired with a run of the reference answering
  the same route's event (its login for the functions that hash a password, GET /v1/signals/{id} for
  the other functions it has no route of), in alternating
  order, so that whatever else the machine does weighs on both; the ratio is the median over the runs
  of function / reference in the same run, and the targets are ratios: absolute times do not carry
  from one machine to another, ratios measured together do.
- Floors: `invest_dev/bench/floor_app.py` holds the least a function of this API can load, the
  libraries it uses and nothing of its own: Powertools' resolver with one route and a fixed answer,
  its Logger and Metrics, one pydantic model validated at import (the settings are one); and the
  same plus SQLAlchemy's engine and `SELECT 1` on a connection (what GET /v1/health does). They run
  with the functions' method, packages and event (GET /v1/health), each paired with the reference
  as the functions they bound are (docs, not-found and plans; health). A floor at or above a
  target means that slicing the layer cannot reach it: the notes under the table say so.
- Cold start with SnapStart: in a third fresh process per run, init (the import, then the
  before-snapshot hooks that prime what the first request would build: investment_system/snapstart.py)
  is timed apart from the after-restore hooks and from the first invocation after them, which is
  what a user of a restored container waits for.
- Warm: the function imported once in this process, one unmeasured invocation, then --iterations
  invocations, timing only the handler's call; p50 and p99 of their latencies. Log lines and EMF metrics are
  written to /dev/null (they are still formatted and written, as in Lambda). Cold starts run the
  rate limiter (memory backend, limits too high to refuse); the warm loop runs without it, since a
  plan's requests_per_minute would refuse most of it (in production the limiter's cost is a Redis or
  DynamoDB round trip, not measured here). The statuses column says which answers were timed.
- Package sizes: the unzipped layer (its largest packages) and each function's code as the last
  `make build` left them in .aws-sam/build.
- The machine's load average is recorded: other work on the machine inflates every number.
- Beside this method, each function's first invocation in its Lambda runtime container, as the
  emulator there reports it (`sam local start-lambda`, devtools/invest_dev/sam/reports.py; `--no-sam`
  leaves it out): the last section.
"""
