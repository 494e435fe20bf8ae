"""The migrate function as the stack's custom resource: it migrates on Create/Update and always answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import inspect

from invest_dev.events import LambdaContextStub
from invest_dev.template import functions
from investment_system.db import engine as db_engine
from investment_system.db.migrate import HEAD_REVISION, upgrade
from investment_system.services.system import schema_migrations
from investment_system.settings import DatabaseSettings
from tests.support.functions import function_module


class _CloudFormation:
    """Stands in for the pre-signed S3 URL CloudFormation waits on."""

    def __init__(self) -> None:
        self.responses: list[dict] = []
        received = self.responses

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/response?X-Amz-Signature=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def event(self, request_type: str) -> dict:
        return {
            "RequestType": request_type,
            "ResponseURL": self.url,
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/invest/guid",
            "RequestId": f"request-{request_type}",
            "LogicalResourceId": "DatabaseMigration",
            "ResourceType": "Custom::DatabaseMigration",
            "ResourceProperties": {"ServiceToken": "arn", "MigrationsVersion": "1"},
            **({"PhysicalResourceId": "DatabaseMigration"} if request_type != "Create" else {}),
        }


@pytest.fixture
def cloudformation() -> Iterator[_CloudFormation]:
    fake = _CloudFormation()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def empty_database(tmp_path):
    engine = db_engine.build_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    db_engine.use_engine(engine)
    yield engine
    db_engine.use_engine(None)
    engine.dispose()


def _invoke(event: dict) -> dict:
    return function_module("MigrateFunction").handler(event, LambdaContextStub("MigrateFunction"))


def test_stack_creation_migrates_an_empty_database_and_reports_success(cloudformation, empty_database):
    # Given an empty database
    # When CloudFormation creates the migration resource
    _invoke(cloudformation.event("Create"))
    # Then the schema is at the latest revision and CloudFormation was told so
    [answer] = cloudformation.responses
    assert answer["Status"] == "SUCCESS"
    assert answer["RequestId"] == "request-Create"
    assert answer["PhysicalResourceId"] == "DatabaseMigration"
    assert answer["Data"]["from_revision"] == "None"
    assert answer["Data"]["to_revision"] not in ("", "None")
    assert "users" in inspect(empty_database).get_table_names()


def test_stack_deletion_leaves_the_schema_alone(cloudformation, empty_database):
    # Given a migrated database
    _invoke(cloudformation.event("Create"))
    # When the stack is deleted
    _invoke(cloudformation.event("Delete"))
    # Then CloudFormation hears success and the tables (and their data) are still there
    assert [answer["Status"] for answer in cloudformation.responses] == ["SUCCESS", "SUCCESS"]
    assert "users" in inspect(empty_database).get_table_names()


def test_an_unreachable_database_fails_the_deploy_instead_of_hanging_it(cloudformation):
    # Given a database server that refuses connections (nothing listens on port 1)
    engine = db_engine.build_engine(DatabaseSettings(url="postgresql+pg8000://app:hunter2-secret@127.0.0.1:1/invest"))
    db_engine.use_engine(engine)
    try:
        # When CloudFormation updates the migration resource
        _invoke(cloudformation.event("Update"))
    finally:
        db_engine.use_engine(None)
        engine.dispose()
    # Then it is answered FAILED with a reason that names the problem and not the password
    [answer] = cloudformation.responses
    assert answer["Status"] == "FAILED"
    assert "Can't create a connection to host 127.0.0.1 and port 1" in answer["Reason"]
    assert "hunter2" not in answer["Reason"]


def test_a_direct_invocation_returns_the_revisions(empty_database):
    # When an operator invokes the function by hand (no custom-resource event)
    result = _invoke({})
    # Then it migrates and says from which revision to which
    assert result["from_revision"] is None
    assert result["to_revision"]


def test_a_deploy_without_new_migrations_runs_none(empty_database, monkeypatch):
    # Given a database already at the newest revision
    first = _invoke({})

    # When the function runs again, and running the migrations would fail
    def no_upgrade() -> None:
        raise AssertionError("the migrations ran although none was pending")

    monkeypatch.setattr(schema_migrations, "upgrade", no_upgrade)
    second = _invoke({})
    # Then it reports the same revision without running them
    assert second == {"from_revision": first["to_revision"], "to_revision": first["to_revision"]}


def test_a_database_behind_the_newest_revision_is_brought_up_to_it(empty_database):
    # Given a database migrated up to an older revision only
    upgrade(empty_database, revision="0006")
    # When the function runs
    result = _invoke({})
    # Then it applies the missing migrations
    assert result == {"from_revision": "0006", "to_revision": HEAD_REVISION}
    assert "stream_events" in inspect(empty_database).get_table_names()


def test_a_cold_start_without_pending_migrations_does_not_load_alembic(tmp_path):
    # Given a database at the newest revision
    database = tmp_path / "migrated.db"
    engine = db_engine.build_engine(DatabaseSettings(url=f"sqlite:///{database}"))
    upgrade(engine)
    engine.dispose()
    spec = next(spec for spec in functions() if spec.name == "MigrateFunction")
    probe = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('migrate', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(json.dumps({'result': module.handler({}, None), 'alembic': 'alembic' in sys.modules}))\n"
    )
    # When a fresh container (no SnapStart) runs the function
    env = {**os.environ, "ENVIRONMENT": "test", "DATABASE_URL": f"sqlite:///{database}", "TRACING_ENABLED": "false"}
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(spec.source)], env=env, cwd=spec.code_uri, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout.splitlines()[-1])
    # Then it reports the database up to date without importing Alembic (or its scripts)
    assert answer["result"] == {"from_revision": HEAD_REVISION, "to_revision": HEAD_REVISION}
    assert answer["alembic"] is False
