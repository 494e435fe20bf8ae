"""The `invest` command: serve, migrate, openapi (and create-admin once accounts exist)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _migrate(_: argparse.Namespace) -> int:
    from investment_system.db.migrate import current_revision, upgrade

    upgrade()
    print(f"database at revision {current_revision()}")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from invest_dev.openapi import build_document, render, write_bundled

    if args.write:
        print(f"wrote {write_bundled()}")
    else:
        sys.stdout.write(render(build_document()))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from invest_dev.gateway import serve

    serve(host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    import os

    parser = argparse.ArgumentParser(prog="invest", description="Investment System developer commands")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve every function of template.yaml over HTTP, locally")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply the database migrations (DATABASE_URL)")
    migrate.set_defaults(run=_migrate)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document generated from the functions")
    openapi.add_argument("--write", action="store_true", help="write it into the layer instead of printing it")
    openapi.set_defaults(run=_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
