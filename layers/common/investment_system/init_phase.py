"""A Lambda container's init: no garbage collection while it loads, and its objects never scanned again.

Init builds some hundred thousand long-lived objects (modules, classes, validators, SQL constructs).
CPython's collector would scan them again and again while they are made, ~50 ms of a database
function's cold start (docs/cold-start.md), and then once more in every full collection of the
container's life. So, in a Lambda container (AWS_LAMBDA_FUNCTION_NAME is set), collection is off from
the layer's first import (`investment_system/__init__.py`) until the function's handler is made: the
handler factories call `end_of_init`, which freezes what init made (`gc.freeze`: a generation the
collector never scans) and turns collection back on. Init leaves next to no cyclic garbage (a full
collection there frees a few hundred objects and would cost ~100 ms), so none is collected first.
Other processes (tests, the local server, the CLI) import many functions or none and keep the
collector as it is.
"""

import gc
import os


def begin_init() -> None:
    """The layer's first import: in a Lambda container, no collection until `end_of_init`."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        gc.disable()


def end_of_init() -> None:
    """The function's handler is made: freeze what init made and collect again from here on."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
