"""SnapStart: what a container restored from a snapshot must redo before it serves a request.

The snapshot is taken after init, at deploy; restored containers start later, many from one
snapshot. Connections in it are dead and secrets may have rotated since, so modules register here
what to drop; it is then re-created on first use. The Lambda runtime ships `snapshot_restore_py`
and runs the hooks in registration order; elsewhere (a venv without the `aws`/`dev` extras) there
is no snapshot to restore.
"""

from collections.abc import Callable
from typing import Any


def after_restore(hook: Callable[[], Any]) -> None:
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # pragma: no cover
        return
    register_after_restore(hook)
