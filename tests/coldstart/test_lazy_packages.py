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


def test_the_installed_libraries_still_have_the_packages_the_layer_defers():
    # Given the installed Powertools and PyJWT
    # When the deferral checks each package it defers
    problems = lazy_packages.compatibility_problems()
    # Then each __init__ still only gathers names (an upgrade that changes one names itself here)
    assert problems == [], "\n".join(problems)


def test_a_package_that_stopped_gathering_names_is_named_with_what_to_change(gathering_package, monkeypatch):
    # Given a deferred package whose new __init__ does more than import names from its submodules
    init = gathering_package / "gathering" / "__init__.py"
    init.write_text(init.read_text() + "print('side effect')\n")
    monkeypatch.syspath_prepend(str(gathering_package))
    monkeypatch.setattr(lazy_packages, "PACKAGES", ("gathering", "gone_away"))
    # When the deferral checks its packages
    problems = lazy_packages.compatibility_problems()
    # Then each problem names the package, what changed and the line to remove
    assert problems == [
        "gathering: gathering's __init__ now does more than import names from its submodules; "
        "remove it from PACKAGES in investment_system/lazy_packages.py",
        "gone_away: gone_away is no longer a package; remove it from PACKAGES in investment_system/lazy_packages.py",
    ]


def test_an_upgrade_that_changes_a_deferred_package_is_named_by_its_library_and_version(monkeypatch):
    # Given an installed PyJWT whose __init__ the deferral can no longer read as gathering names
    from importlib.metadata import version

    monkeypatch.setattr(lazy_packages, "PACKAGES", ("jwt",))
    monkeypatch.setattr(lazy_packages, "_plan", lambda package, source: None)
    # When the deferral checks its packages
    problems = lazy_packages.compatibility_problems()
    # Then the problem names the distribution and the version that changed it
    assert problems == [
        f"PyJWT {version('PyJWT')}: jwt's __init__ now does more than import names from its submodules; "
        "remove it from PACKAGES in investment_system/lazy_packages.py"
    ]
