"""`python -m invest_dev.sam api|lambda|invoke FN|image`: the Makefile's sam targets (see `local`)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from invest_dev.sam.image import ImageError, RuntimeImage, host_architecture
from invest_dev.sam.local import (
    DEFAULT_DATABASE_URL,
    DEFAULT_SQLITE_URL,
    LocalRunError,
    clear_stale_build_locks,
    container_database,
    prepare,
    remove_containers,
    sam_command,
    sam_environment,
    write_env_vars,
)
from invest_dev.template import ROOT

SERVERS = {"api": ["local", "start-api"], "lambda": ["local", "start-lambda"]}


def _run_sam(subcommand: list[str], architecture: str, database_url: str, *extra: str) -> int:
    """Run `sam` with the database reachable from its containers, until it exits (or Ctrl-C)."""
    clear_stale_build_locks()
    with container_database(database_url) as reachable:
        write_env_vars(reachable)
        command = sam_command(subcommand, architecture, *extra, database_url=database_url)
        process = subprocess.Popen(command, cwd=ROOT, env=sam_environment())
        previous = signal.signal(signal.SIGTERM, lambda *_: process.terminate())
        try:
            return process.wait()
        except KeyboardInterrupt:
            # sam got the Ctrl-C too, but lets it wait while it is starting containers
            try:
                return process.wait(10)
            except subprocess.TimeoutExpired:
                process.terminate()
                return process.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)
            remove_containers(reachable, database_url)


def default_database_url() -> str:
    """SAM_DATABASE_URL; else SQLite's default file with SAM_DATABASE=sqlite, PostgreSQL's database without."""
    if url := os.environ.get("SAM_DATABASE_URL"):
        return url
    return DEFAULT_SQLITE_URL if os.environ.get("SAM_DATABASE") == "sqlite" else DEFAULT_DATABASE_URL


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invest_dev.sam", description=__doc__)
    parser.add_argument("command", choices=[*SERVERS, "invoke", "image"])
    parser.add_argument("function", nargs="?", help="invoke: the function's logical ID")
    parser.add_argument("--database-url", default=default_database_url())
    parser.add_argument("--architecture", default=host_architecture())
    args = parser.parse_args(argv)
    try:
        if args.command == "image":
            RuntimeImage(args.architecture).ensure()
            return 0
        architecture = prepare(args.database_url, args.architecture)
        if args.command == "invoke":
            if not args.function:
                parser.error("invoke needs a function's logical ID (make sam-invoke FN=HealthFunction)")
            event = ROOT / "events" / f"{args.function}.json"
            extra = ["--event", str(event)] if event.exists() else ["--no-event"]
            return _run_sam(["local", "invoke"], architecture, args.database_url, args.function, *extra)
        return _run_sam(SERVERS[args.command], architecture, args.database_url)
    except (ImageError, LocalRunError) as error:
        print(f"sam local: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
