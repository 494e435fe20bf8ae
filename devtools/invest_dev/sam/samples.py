"""`python -m invest_dev.sam.samples`: every function's event for one successful invocation, as JSON.

The database of DATABASE_URL (migrated) gets the sample accounts and what each event needs, seeded by
the benchmark's preparers (invest_dev/bench/prepare.py); the events are those of events/, with fresh
tokens. `make test-sam` and `make bench` invoke the functions with them in their runtime containers.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from invest_dev.template import functions


def prepared_events() -> dict[str, Any]:
    from invest_dev.bench.environment import has_sample_event, sample_event
    from invest_dev.bench.prepare import event_source
    from invest_dev.samples import seed_sample_users

    users = seed_sample_users()
    return {
        spec.name: event_source(spec.name, sample_event(spec, users), users)()
        for spec in functions()
        if has_sample_event(spec)
    }


if __name__ == "__main__":
    json.dump(prepared_events(), sys.stdout)
