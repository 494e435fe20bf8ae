"""Packages whose __init__ only gathers names load a submodule when one of its names is first read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from investment_system import lazy_packages


def _run(code: str, path: Path | None = None) -> str:
    env_path = [str(path)] if path else []
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={"PYTHONPATH": ":".join([*env_path, *sys.path[1:]])},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def gathering_package(tmp_path: Path) -> Path:
    """A package `gathering` whose __init__ re-exports `Cheap` and `Costly` from two submodules."""
    package = tmp_path / "gathering"
    package.mkdir()
    (package / "__init__.py").write_text(
        '"""Gathers."""\nfrom .cheap import Cheap\nfrom .costly import Costly as Costly\nfrom .tool import tool\n'
        '__version__ = "1.0"\n__all__ = ["Cheap", "Costly", "tool"]\n'
    )
    (package / "cheap.py").write_text("class Cheap: ...\n")
    (package / "tool.py").write_text("def tool():\n    return 'the function'\n")
    (package / "costly.py").write_text("import sys\nsys.modules['__main__'].costly_loaded = True\nclass Costly: ...\n")
    return tmp_path


def test_a_deferred_package_loads_only_the_submodule_of_the_name_read(gathering_package):
    # Given the package deferred before anything imported it
    output = _run(
        """
        import sys
        from investment_system import lazy_packages
        lazy_packages.PACKAGES = ("gathering",)
        lazy_packages.defer_package_imports()
        # When one name is imported from it
        from gathering import Cheap
        import gathering
        print(lazy_packages.deferred_packages(), gathering.__version__, "gathering.costly" in sys.modules)
        # Then the other's submodule loads only when its name is read
        print(gathering.Costly.__module__, "gathering.costly" in sys.modules, sorted(gathering.__all__))
        """,
        gathering_package,
    )
    assert output.splitlines() == [
        "['gathering'] 1.0 False",
        "gathering.costly True ['Cheap', 'Costly', 'tool']",
    ]


def test_a_deferred_package_keeps_the_names_submodules_and_star_import_of_its_init(gathering_package):
    # Given the package deferred
    output = _run(
        """
        from investment_system import lazy_packages
        lazy_packages.PACKAGES = ("gathering",)
        lazy_packages.defer_package_imports()
        # When a submodule is imported before the name its __init__ takes from it, of the same name
        import gathering.tool
        from gathering import tool
        print(tool())
        # And a submodule is read as an attribute, and everything is star-imported
        print(gathering.cheap.__name__)
        namespace = {}
        exec("from gathering import *", namespace)
        print(sorted(name for name in namespace if not name.startswith("__")))
        """,
        gathering_package,
    )
    # Then the __init__'s name wins over the submodule, as in an eager import, and the rest resolve
    assert output.splitlines() == ["the function", "gathering.cheap", "['Cheap', 'Costly', 'tool']"]


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        ("print('side effect')\n", ["side effect", "[] 1.0"]),
        ("__version__ = Cheap.__name__\n", ["[] Cheap"]),  # needs a name the imports bind
    ],
    ids=["a call", "an assignment of an imported name"],
)
def test_a_package_whose_init_does_more_than_gather_names_is_imported_as_usual(gathering_package, more, expected):
    # Given a package whose __init__ does more than import names and assign constants
    init = gathering_package / "gathering" / "__init__.py"
    init.write_text(init.read_text() + more)
    # When the layer defers it
    output = _run(
        """
        from investment_system import lazy_packages
        lazy_packages.PACKAGES = ("gathering",)
        lazy_packages.defer_package_imports()
        import gathering
        print(lazy_packages.deferred_packages(), gathering.__version__)
        """,
        gathering_package,
    )
    # Then it was imported as usual: what its __init__ does ran, and it is not deferred
    assert output.splitlines() == expected


def test_the_layers_dependencies_are_deferred_once_the_layer_is_imported():
    # Given a fresh interpreter
    # When the layer is imported, then Powertools' event handler
    output = _run(
        """
        import sys
        import investment_system
        from investment_system.http import create_app
        from investment_system.lazy_packages import deferred_packages
        create_app()
        print(deferred_packages())
        print(sorted(m for m in ("asyncio", "jwt.jwks_client", "aws_lambda_powertools.event_handler.appsync",
                                 "aws_lambda_powertools.utilities.data_classes.sqs_event") if m in sys.modules))
        """
    )
    # Then the gathering packages are deferred (an upgrade that changes their __init__ fails here)
    # and the resolvers, JWKS client and event classes no function uses are not loaded
    assert output.splitlines() == [str(list(lazy_packages.PACKAGES)), "[]"]


def test_a_module_kept_at_hand_runs_when_one_of_its_names_is_first_read():
    # Given a fresh interpreter with the layer imported, then Powertools' logger (which imports jmespath_utils)
    # When the logger is made, then a name of jmespath_utils is read
    output = _run(
        """
        import sys
        import investment_system
        from investment_system.lazy_packages import deferred_modules
        from aws_lambda_powertools import Logger
        Logger(service="probe")
        print(deferred_modules(), "jmespath" in sys.modules)
        from aws_lambda_powertools.utilities import jmespath_utils
        import aws_lambda_powertools.utilities.jmespath_utils as imported
        print(jmespath_utils.query(envelope="a.b", data={"a": {"b": 3}}), imported is jmespath_utils)
        print(deferred_modules(), type(jmespath_utils).__name__)
        """
    )
    # Then until that read the module had not run (nor loaded jmespath), and from it on it is the module
    assert output.splitlines() == [
        "['aws_lambda_powertools.utilities.jmespath_utils'] False",
        "3 True",
        "[] module",
    ]
