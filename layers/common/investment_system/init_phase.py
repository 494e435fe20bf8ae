"""A Lambda container's init: no garbage collection while it loads, and its objects never scanned again.

Init builds some hundred thousand long-lived objects (modules, classes, validators, SQL constructs),
which CPython's collector would scan again and again while they are made, and in every later full
collection (docs/cold-start.md). So, in a Lambda container (AWS_LAMBDA_FUNCTION_NAME set), collection
is off from the layer's first import until the function's handler is made: the entry points
(investment_system/entrypoints/) then call `end_of_init`, which freezes what init made and turns
collection back on. Other processes (tests, the local server, the CLI) keep the collector as it is.
"""

import gc
import os


def begin_init() -> None:
    """The layer's first import: in a Lambda container, no collection until `end_of_init`."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        gc.disable()


def end_of_init() -> None:
    """The function's handler is made: freeze what init made and collect again from here on.

    Init leaves next to no cyclic garbage, so none is collected first."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
