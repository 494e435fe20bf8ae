"""Which of the layer's modules each function of template.yaml loads, each imported in a fresh interpreter
as Lambda imports it: what template tests derive a function's permissions from."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from invest_dev.template import functions

_PROBE = (
    "import json, sys; from invest_dev.template import functions, import_function; "
    "import_function(next(s for s in functions() if s.name == sys.argv[1])); "
    "print(json.dumps(sorted(name for name in sys.modules if name.startswith('investment_system'))))"
)


def _loaded(name: str) -> frozenset[str]:
    result = subprocess.run([sys.executable, "-c", _PROBE, name], capture_output=True, text=True, check=True)
    return frozenset(json.loads(result.stdout.strip().splitlines()[-1]))


@cache
def loaded_modules() -> dict[str, frozenset[str]]:
    """Function logical ID -> the investment_system modules importing it loads (once per test session)."""
    names = [spec.name for spec in functions()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(_loaded, names), strict=True))
