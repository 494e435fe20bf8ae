"""The ledger of a load run: what every client was told, one JSON line per fact, for the audit.

Kinds of line (all with `t`, the wall-clock second it was written):
- `request`: every HTTP request: `method`, `name` (the route), `t0`/`t1` (start and end, wall clock),
  `status`, `code` (the error envelope's code, or null) and `retry_after` (whether it said when to retry);
- `user`: a registered account: `user_id`, `email`;
- `create`: an attempt to create a signal: `user_id`, `nonce` (also in its notes, so the audit finds
  the row it made, if any), `key` (its Idempotency-Key, or null), `status`, `code`, `retry_after`,
  `replayed` and, when acknowledged (201, or a replay), `signal` (the body the client got);
- `close`: a signal closed (200): `user_id`, `signal_id`, `exit_price`;
- `paid`: a plan bought: `user_id`, `plan`, `checkout_id` (null where the API granted the plan at
  once), `status` of the signed `invoice.paid` webhook and whether it was `applied` (its answer's);
- `fault`: written by the fault schedule: `what`, `down_at`, `up_at` (when the server answered again).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class Ledger:
    """Appends facts to a JSON-lines file; safe to share between greenlets and threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"kind": kind, "t": time.time(), **fields}, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as ledger:
            ledger.write(line + "\n")


def read_ledger(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The facts of a ledger by kind, in the order they were written."""
    facts: dict[str, list[dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                fact = json.loads(line)
                facts.setdefault(fact["kind"], []).append(fact)
    return facts
