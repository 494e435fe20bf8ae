"""`make load`: mixed traffic from many simulated investors at once, with faults, then an audit.

    .venv/bin/python -m invest_dev.load                          # SQLite, 20 investors, 45 s
    .venv/bin/python -m invest_dev.load --database postgres
    .venv/bin/python -m invest_dev.load --fault postgres         # PostgreSQL stopped at 15 s, started at 25 s
    .venv/bin/python -m invest_dev.load --fault redis [--fail-closed]
    .venv/bin/python -m invest_dev.load --base-url https://<stage> [--database-url postgresql+pg8000://...]
    .venv/bin/python -m invest_dev.load --ci                     # CI's short runs

Modules: `scenario` (the Locust users: what each simulated investor does), `ledger` (what the
clients were told), `faults` (the run's own PostgreSQL and Redis, stopped and started on a
schedule), `audit` (the database against the ledger), `report` (tables, docs/load-results.md,
the dashboard), `run` (the command line). docs/load-testing.md explains the method and the numbers.
"""
