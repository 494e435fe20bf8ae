"""The ledger of a load run: what every client was told, one JSON line per fact, for the audit.

Its kinds of line (request, user, create, close, paid, fault) and their fields: docs/load-testing.md#the-code.
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
