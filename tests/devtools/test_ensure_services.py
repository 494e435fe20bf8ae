"""devtools/ensure-services: what it cannot do where it runs, it says at once, in one line naming the command to run.

Each test runs the script with a PATH of its own: the few tools the script needs besides the services', and
stand-ins that answer like clients of running servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "devtools" / "ensure-services"
BASICS = ("bash", "seq", "sleep", "ls")
SERVER_CLIENTS = ("pg_isready", "mariadb-admin", "redis-cli", "docker")
NOT_ROOT = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}


@pytest.fixture
def bin_dir() -> Iterator[Path]:
    """An empty directory for the PATH, with the script's basic tools; readable by any user."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory)
        path.chmod(0o755)
        for tool in BASICS:
            (path / tool).symlink_to(shutil.which(tool))
        yield path


def _stand_in(bin_dir: Path, name: str, script: str) -> None:
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)


def _servers_answer(bin_dir: Path) -> None:
    for client in SERVER_CLIENTS:
        _stand_in(bin_dir, client, "echo PONG")
    _stand_in(bin_dir, "debootstrap", "exit 0")


def _run(bin_dir: Path, *services: str, **user: object) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(SCRIPT), *services],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        **user,
    )
    return done, time.monotonic() - started


def _assert_stopped_at_once_saying(result: tuple[subprocess.CompletedProcess[str], float], line: str) -> None:
    done, seconds = result
    assert done.returncode == 1
    assert (done.stdout, done.stderr) == ("", f"ensure-services: {line}\n")
    assert seconds < 5


def test_a_missing_server_names_its_package(bin_dir):
    # Given a machine where no server answers and none is installed
    # When the script runs
    result = _run(bin_dir)
    # Then it stops at once, naming the package to install
    _assert_stopped_at_once_saying(
        result, "PostgreSQL is not running on 127.0.0.1:5432 nor installed; run: apt-get install postgresql"
    )


def test_a_missing_browser_without_apt_get_says_what_to_install(bin_dir):
    # Given running servers, but neither chromium nor apt-get
    _servers_answer(bin_dir)
    # When the script runs
    result = _run(bin_dir)
    # Then it stops at once, saying what to install
    _assert_stopped_at_once_saying(
        result, "chromium is not on PATH and there is no apt-get to install it; install Chromium as `chromium`"
    )


def test_a_user_who_is_not_root_is_told_to_run_it_as_root(bin_dir):
    # Given running servers, no chromium but an apt-get, and a user who is not root
    _servers_answer(bin_dir)
    _stand_in(bin_dir, "apt-get", "exit 0")
    # When the script runs
    result = _run(bin_dir, **NOT_ROOT)
    # Then it stops at once, telling to run it as root
    _assert_stopped_at_once_saying(result, f"chromium must be started or installed as root; run: sudo {SCRIPT}")


def test_a_missing_docker_engine_without_apt_get_says_what_to_install(bin_dir):
    # Given running servers and chromium, but no Docker engine, no dockerd and no apt-get
    _servers_answer(bin_dir)
    _stand_in(bin_dir, "docker", "exit 1")
    _stand_in(bin_dir, "chromium", "exit 0")
    # When the script runs
    result = _run(bin_dir)
    # Then it stops at once, naming Debian's package
    _assert_stopped_at_once_saying(
        result,
        "the Docker engine is not running nor installed, and there is no apt-get; install docker.io and debootstrap",
    )


def test_named_services_are_the_only_ones_brought_up(bin_dir):
    # Given a machine where only PostgreSQL and Docker answer (no MariaDB, Redis or chromium)
    _stand_in(bin_dir, "pg_isready", "exit 0")
    _stand_in(bin_dir, "docker", "exit 0")
    _stand_in(bin_dir, "debootstrap", "exit 0")
    # When the script is asked for those two (what `make sam-api` needs)
    done, _ = _run(bin_dir, "docker", "postgres")
    # Then it has nothing to do
    assert (done.returncode, done.stderr) == (0, "")
    # And a name it does not know is refused
    unknown, _ = _run(bin_dir, "docker", "kubernetes")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("ensure-services: unknown service kubernetes (postgres, mariadb,")


def test_docker_without_debootstrap_is_not_ready(bin_dir):
    # Given a running Docker engine but no debootstrap (the runtime image is built with it), and no apt-get
    _stand_in(bin_dir, "docker", "exit 0")
    _stand_in(bin_dir, "dockerd", "exit 0")
    # When the script is asked for Docker
    result = _run(bin_dir, "docker")
    # Then it stops at once, naming both packages
    _assert_stopped_at_once_saying(
        result,
        "the Docker engine is not running nor installed, and there is no apt-get; install docker.io and debootstrap",
    )
