"""`make bench`: cold start and warm latency of every function of template.yaml, beside a reference app.

    .venv/bin/python -m invest_dev.bench                 # everything; writes docs/benchmarks.md

How it measures is `method.py` (the Method section of docs/benchmarks.md); running parts of it,
adding a scenario and what each module does: docs/development.md#benchmarks.
"""
