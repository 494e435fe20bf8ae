"""`sam local` on this machine: the build for the host's architecture, the database, the flags.

The flags live in samconfig.toml's `local` environment; this adds what depends on the machine: the
Architecture parameter (the host's), and the database, migrated first: a server reached from the containers
through a forwarder on the Docker bridge (the servers listen on 127.0.0.1 only), or a SQLite file whose
directory every function's container mounts read-write (with_volume.py: sam has no option for it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy.engine import make_url

from invest_dev.sam.image import SAM_VENV, RuntimeImage, host_architecture
from invest_dev.template import ROOT, load_template

SAMCONFIG = ROOT / "samconfig.toml"
CONFIG_ENV = "local"
BUILD_DIR = ROOT / ".aws-sam" / "local"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
ENV_VARS_FILE = ROOT / ".local" / "sam" / "env.json"
DEFAULT_DATABASE_URL = "postgresql+pg8000://postgres@127.0.0.1:5432/invest_sam"
# `make sam-api SAM_DATABASE=sqlite`: relative to the repository, outside the code sam builds.
DEFAULT_SQLITE_URL = "sqlite:///.local/sam/sqlite/invest.db"
# Where each function's container finds the SQLite file's directory (as Lambda mounts EFS under /mnt).
SQLITE_MOUNT = "/mnt/invest-db"
WITH_VOLUME = Path(__file__).with_name("with_volume.py")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LocalRunError(RuntimeError):
    """sam local cannot run as asked; the message says why and what to run."""


def sam_environment() -> dict[str, str]:
    """`sam` finds python3.13 on PATH (the layer's Makefile runs it) and sends no telemetry. The
    variables the template declares are left out: sam would pass this shell's values of them to the
    containers (ENVIRONMENT=test of the test session, `make`'s DATABASE_URL) over the template's."""
    declared = declared_variables()
    return {
        **{name: value for name, value in os.environ.items() if name not in declared},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
    }


def declared_variables() -> set[str]:
    """The environment variables the template declares, for any function (whatever their values)."""
    template = load_template()
    sections = [template.get("Globals", {}).get("Function", {})]
    sections += [resource.get("Properties", {}) for resource in template["Resources"].values()]
    return {name for section in sections for name in section.get("Environment", {}).get("Variables", {})}


def sam_command(
    subcommand: Sequence[str], architecture: str, *extra: str, database_url: str | None = None
) -> list[str]:
    """`sam <subcommand>` in samconfig.toml's local environment, its parameter overrides with the
    Architecture parameter added (on the command line they replace the file's, so both are given). On
    SQLite, through with_volume.py: every function's container mounts the file's directory read-write."""
    overrides = [*_config_parameter_overrides(subcommand), f"Architecture={architecture}"]
    sam = [str(SAM_VENV / "bin" / "sam")]
    if database_url and is_sqlite(database_url):
        sam = [str(SAM_VENV / "bin" / "python"), str(WITH_VOLUME), str(sqlite_file(database_url).parent), SQLITE_MOUNT]
    # `extra` before the options: --parameter-overrides takes every word after it.
    return [
        *sam,
        *subcommand,
        *extra,
        "--config-file",
        str(SAMCONFIG),
        "--config-env",
        CONFIG_ENV,
        "--parameter-overrides",
        " ".join(overrides),
    ]


def _config_parameter_overrides(subcommand: Sequence[str]) -> list[str]:
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))[CONFIG_ENV]
    section = "_".join(subcommand).replace("-", "_")
    for name in (section, "global"):
        value = config.get(name, {}).get("parameters", {}).get("parameter_overrides")
        if value:
            return str(value).split()
    return []


def build(architecture: str) -> None:
    """`sam build` of the template for `architecture` into .aws-sam/local (`make build`'s stays the deploy's)."""
    env = {**sam_environment(), "ARCHITECTURE": architecture}
    done = subprocess.run(sam_command(["build"], architecture), cwd=ROOT, env=env)
    if done.returncode != 0:
        raise LocalRunError("sam build failed (its output is above)")
    # As `make build` ships it: the containers mount the code read-only, so without bytecode every cold
    # start would compile each module it imports.
    compile_all = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    if subprocess.run([*compile_all, str(BUILD_DIR)], cwd=ROOT).returncode != 0:
        raise LocalRunError(f"compileall of {BUILD_DIR} failed")


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


def sqlite_file(database_url: str) -> Path:
    """The SQLite file of a URL, absolute (a relative one is the repository's); outside the build, whose
    function directories are the code the containers mount (and which sam build replaces)."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise LocalRunError(f"{database_url}: sam local needs a SQLite file every function's container can open")
    path = (ROOT / database).resolve()
    if path.is_relative_to(BUILD_DIR.resolve()):
        raise LocalRunError(f"{path}: the SQLite file must be outside {BUILD_DIR} (the functions' code)")
    return path


def prepare(database_url: str, architecture: str | None = None) -> str:
    """Everything a `sam local` command needs but the database's forwarder: the image, the build, the
    migrated database. The architecture used."""
    architecture = architecture or host_architecture()
    migrate_url = database_url
    if is_sqlite(database_url):
        path = sqlite_file(database_url)
        path.parent.mkdir(parents=True, exist_ok=True)
        migrate_url = f"sqlite:///{path}"
    RuntimeImage(architecture).ensure()
    build(architecture)
    if not is_sqlite(database_url):
        _create_database_if_missing(database_url)
    migrated = subprocess.run(
        [str(Path(sys.executable).with_name("invest")), "migrate"],
        env={**os.environ, "DATABASE_URL": migrate_url},
        capture_output=True,
        text=True,
    )
    if migrated.returncode != 0:
        raise LocalRunError(f"invest migrate failed:\n{migrated.stderr.strip()}")
    return architecture


def _create_database_if_missing(database_url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from invest_dev.scratch_db import create_database

    url = make_url(database_url)
    engine = create_engine(url)
    try:
        with engine.connect():
            return
    except (OperationalError, ProgrammingError):
        pass
    finally:
        engine.dispose()
    admin = url.set(database="postgres" if url.get_backend_name() == "postgresql" else None)
    create_database(admin.render_as_string(hide_password=False), str(url.database))


def docker_bridge_address() -> str:
    """The host's address on Docker's default bridge, which every runtime container can reach."""
    inspected = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
        capture_output=True,
        text=True,
    )
    if inspected.returncode != 0:
        raise LocalRunError(f"docker is not running ({inspected.stderr.strip()}); run: devtools/ensure-services")
    config = json.loads(inspected.stdout)[0]
    # Docker gives the default bridge the subnet's first address when it names no gateway.
    return str(config.get("Gateway") or ipaddress.ip_network(config["Subnet"])[1])


class Forwarder:
    """Relays TCP connections from the Docker bridge to a server on this machine's loopback."""

    def __init__(self, listen_host: str, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server((listen_host, 0))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        threading.Thread(target=self._accept, name="sam-db-forwarder", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@contextmanager
def container_database(database_url: str) -> Iterator[str]:
    """The database URL as the containers reach it, for as long as the context lasts."""
    if is_sqlite(database_url):
        yield f"sqlite:///{SQLITE_MOUNT}/{sqlite_file(database_url).name}"
        return
    url = make_url(database_url)
    if url.host not in _LOOPBACK:
        yield database_url
        return
    default_port = 5432 if url.get_backend_name() == "postgresql" else 3306
    forwarder = Forwarder(docker_bridge_address(), ("127.0.0.1", url.port or default_port))
    try:
        host, port = forwarder.address
        yield url.set(host=host, port=port).render_as_string(hide_password=False)
    finally:
        forwarder.close()


def write_env_vars(container_database_url: str, path: Path = ENV_VARS_FILE) -> Path:
    """The `--env-vars` file (samconfig.toml names it): values of variables the template declares."""
    variables = {
        "DATABASE_URL": container_database_url,
        "DATABASE_SSL": "false",  # the local servers speak no TLS; deploys reach RDS Proxy over TLS
        # No Lambda service to invoke the stream's delivery in (the WebSocket API is not emulated).
        "STREAM_DELIVERY_FUNCTION": "",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"Parameters": variables}, indent=2) + "\n", encoding="utf-8")
    return path


def clear_stale_build_locks() -> None:
    """Remove the image-build locks of sam processes that are gone: sam stopped while it builds a
    function's image leaves its lock, and the next run would wait minutes for it."""
    for lock in Path(tempfile.gettempdir()).glob("samcli_*.building.lock"):
        with suppress(OSError, ValueError):
            pid = int(lock.read_text().split()[0])
            if not Path(f"/proc/{pid}").exists():
                lock.unlink()
                lock.with_suffix(".status").unlink(missing_ok=True)


def remove_containers(container_database_url: str, database_url: str | None = None) -> None:
    """Remove the runtime containers of one run, known by its database URL (the forwarder's port makes it
    unique; on SQLite, by the directory they mount): sam leaves them running when it is stopped while it
    starts them."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=sam.cli.container.type=lambda"], capture_output=True, text=True
    )
    mounted = str(sqlite_file(database_url).parent) if database_url and is_sqlite(database_url) else None
    ours = []
    for container in listed.stdout.split():
        inspected = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
        if inspected.returncode != 0:
            continue
        details = json.loads(inspected.stdout)[0]
        if f"DATABASE_URL={container_database_url}" not in (details["Config"]["Env"] or []):
            continue
        if mounted is None or any(mount.get("Source") == mounted for mount in details.get("Mounts") or []):
            ours.append(container)
    if ours:
        subprocess.run(["docker", "rm", "-f", *ours], capture_output=True)
