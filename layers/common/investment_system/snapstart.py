"""SnapStart: what init puts into the snapshot, and what a container restored from it must redo.

The snapshot is taken after init, at deploy; restored containers start later, many from one
snapshot. Work done before the snapshot is never paid by a request, so modules register here what
to prime (`before_snapshot`): the routes' validators, the engine and the ORM's mappers, everything a
first request would otherwise import or build, but never a connection. The hooks run in
registration order, those registered with `last=True` after the others (the ORM's mappers are
configured once every hook has imported the models it needs). Connections in the snapshot would be
dead and secrets may have rotated since, so modules also register what to drop (`after_restore`);
it is then re-created on first use. The Lambda runtime ships `snapshot_restore_py` and runs the
registered hooks; elsewhere (a venv without the `aws`/`dev` extras) there is no snapshot to take or
restore. Without SnapStart no before-snapshot hook runs: a first request builds what it needs, and
only that.
"""

import gc
from collections.abc import Callable
from typing import Any

_priming: list[Callable[[], Any]] = []
_priming_last: list[Callable[[], Any]] = []


def before_snapshot(hook: Callable[[], Any], *, last: bool = False) -> None:
    (_priming_last if last else _priming).append(hook)


def after_restore(hook: Callable[[], Any]) -> None:
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # pragma: no cover
        return
    register_after_restore(hook)


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
