"""The `invest` command: serve, migrate, create-admin, import-users, openapi, generate, dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def _migrate(_: argparse.Namespace) -> int:
    from investment_system.db.migrate import current_revision, upgrade

    upgrade()
    print(f"database at revision {current_revision()}")
    return 0


def _create_admin(args: argparse.Namespace) -> int:
    import getpass
    import os

    from investment_system.errors import AppError
    from investment_system.services.accounts.credentials import create_admin

    password = os.environ.get("INVEST_ADMIN_PASSWORD")
    if not password:
        password = getpass.getpass(f"Password for {args.email}: ")
        if getpass.getpass("Repeat the password: ") != password:
            print("invest create-admin: the passwords differ", file=sys.stderr)
            return 1
    try:
        admin = create_admin(args.email, password)
    except AppError as error:
        print(f"invest create-admin: {error.message}", file=sys.stderr)
        for detail in error.details or []:
            print(f"  - {detail['message']}", file=sys.stderr)
        return 1
    print(f"created administrator {admin.email} ({admin.id})")
    return 0


IMPORT_COLUMNS = ("email", "password_hash", "full_name")


def _import_users(args: argparse.Namespace) -> int:
    """Accounts of the previous system, one per CSV row (email, password_hash as bcrypt, full_name
    optional), each in its own transaction: a refused row is reported by its line and the others still
    come in. A report never quotes a row's values (a database error's message would give its hash)."""
    import csv

    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from investment_system.errors import AppError, field_errors
    from investment_system.schemas.users import ImportedUser
    from investment_system.services.accounts.credentials import import_user

    imported = refused = 0
    with open(args.file, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        try:
            columns = set(reader.fieldnames or ())
            if not {"email", "password_hash"} <= columns or not columns <= set(IMPORT_COLUMNS):
                print(
                    f"invest import-users: the columns must be {', '.join(IMPORT_COLUMNS)} (full_name optional)",
                    file=sys.stderr,
                )
                return 1
            for line, row in enumerate(reader, start=2):
                problem = None
                try:
                    import_user(ImportedUser.model_validate({name: value for name, value in row.items() if value}))
                except ValidationError as error:
                    problem = "; ".join(f"{d['field']}: {d['message']}" for d in field_errors(error.errors()))
                except AppError as error:
                    problem = error.message
                except SQLAlchemyError as error:
                    problem = f"the database refused it ({type(error).__name__})"
                if problem is None:
                    imported += 1
                else:
                    print(f"line {line}: {problem}", file=sys.stderr)
                    refused += 1
        except (csv.Error, UnicodeDecodeError) as error:  # the file itself: nothing further is read
            print(f"after line {reader.line_num}: not CSV text in UTF-8 ({type(error).__name__})", file=sys.stderr)
            refused += 1
    print(f"imported {imported} users, refused {refused}")
    return 1 if refused else 0


def _openapi(_: argparse.Namespace) -> int:
    from invest_dev.openapi import build_document, render

    sys.stdout.write(render(build_document()))
    return 0


def _generate(_: argparse.Namespace) -> int:
    from invest_dev.generate import write_generated

    changed = write_generated()
    print("\n".join(f"rewrote {path}" for path in changed) or "every generated file is current")
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from invest_dev.gateway.server import metrics_file
    from invest_dev.local_dashboard import write_local_dashboard

    source = Path(args.metrics) if args.metrics else metrics_file()
    print(f"wrote {write_local_dashboard(source, Path(args.output))} from {source}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from invest_dev.gateway.server import serve

    serve(host=args.host, port=args.port, metrics_port=args.metrics_port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    import os

    parser = argparse.ArgumentParser(prog="invest", description="Investment System developer commands")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve every function of template.yaml over HTTP, locally")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("METRICS_PORT", "9464")),
        help="serve the functions' metrics for Prometheus on this port, apart from the API (0: not at all)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply the database migrations (DATABASE_URL)")
    migrate.set_defaults(run=_migrate)

    create_admin = commands.add_parser(
        "create-admin", help="create an administrator (password from INVEST_ADMIN_PASSWORD, else a prompt)"
    )
    create_admin.add_argument("--email", required=True)
    create_admin.set_defaults(run=_create_admin)

    import_users = commands.add_parser(
        "import-users",
        help="add the previous system's accounts from a CSV file (email, password_hash as bcrypt, full_name); "
        "each one's first login rehashes its password with argon2id",
    )
    import_users.add_argument("file", metavar="FILE.csv")
    import_users.set_defaults(run=_import_users)

    openapi = commands.add_parser("openapi", help="print the OpenAPI document generated from the functions")
    openapi.set_defaults(run=_openapi)

    generate = commands.add_parser(
        "generate", help="rewrite every generated file: the OpenAPI document and the monitoring stack"
    )
    generate.set_defaults(run=_generate)

    dashboard = commands.add_parser("dashboard", help="draw the operations dashboard from a local run's metrics (HTML)")
    dashboard.add_argument("--metrics", help="EMF lines to read (default: METRICS_FILE or .local/metrics.jsonl)")
    dashboard.add_argument("--output", default=".local/dashboard.html", help="the HTML page to write")
    dashboard.set_defaults(run=_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
