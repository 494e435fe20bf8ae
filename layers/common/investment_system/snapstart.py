"""SnapStart: what init puts into the snapshot, and what a container restored from it must redo.

Work done before the snapshot is never paid by a request, so modules register what a first request
would build (`before_snapshot`, in registration order, `last=True` after the others), never a
connection; and what a restored container must drop and re-create on first use (`after_restore`:
connections, secrets). The Lambda runtime's `snapshot_restore_py` runs the hooks; without SnapStart
none runs before a request. docs/cold-start.md#snapstart-priming says what is primed.
"""

import gc
from collections.abc import Callable
from typing import Any

_priming: list[Callable[[], Any]] = []
_priming_last: list[Callable[[], Any]] = []
_restoring: list[Callable[[], Any]] = []


def before_snapshot(hook: Callable[[], Any], *, last: bool = False) -> None:
    (_priming_last if last else _priming).append(hook)


def after_restore(hook: Callable[[], Any]) -> None:
    _restoring.append(hook)
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # pragma: no cover
        return
    register_after_restore(hook)


def redo_after_restore() -> None:
    """Run the after-restore hooks now: after a replay before the snapshot, which ran on scratch settings
    and a scratch database, the container forgets what it made of them, as a restored one does."""
    for hook in _restoring:
        hook()


def _prime() -> None:
    for hook in _priming:
        hook()
    for hook in _priming_last:
        hook()
    # What priming made joins what init made in the generation the collector never scans (init_phase.py).
    gc.freeze()


try:
    from snapshot_restore_py import register_before_snapshot
except ImportError:  # pragma: no cover
    pass
else:
    register_before_snapshot(_prime)
