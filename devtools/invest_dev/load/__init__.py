"""`make load`: mixed traffic from many simulated investors at once, with faults, then an audit.

    .venv/bin/python -m invest_dev.load                          # SQLite, 20 investors
    .venv/bin/python -m invest_dev.load --fault postgres         # with PostgreSQL stopped and started
    .venv/bin/python -m invest_dev.load --help

docs/load-testing.md explains the runs, the method, the numbers and each module.
"""
