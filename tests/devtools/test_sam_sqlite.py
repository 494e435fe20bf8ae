"""`sam local start-api` on SQLite (make sam-api SAM_DATABASE=sqlite): one file, outside the code, that every
function's container mounts read-write (devtools/invest_dev/sam/with_volume.py), migrated first."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing

import pytest
import requests

from invest_dev.sam.local import prepare
from tests.support.sam import RunningSam, running_sam

pytestmark = [pytest.mark.sam, pytest.mark.slow]


@pytest.fixture(scope="module")
def sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("sam-sqlite") / "db" / "invest.db")


@pytest.fixture(scope="module")
def sam_api_on_sqlite(sqlite_file: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSam]:
    url = f"sqlite:///{sqlite_file}"
    prepare(url)
    workdir = tmp_path_factory.mktemp("sam-api-sqlite")
    with running_sam(["local", "start-api"], url, workdir, "--warm-containers", "LAZY") as sam:
        yield sam


def test_a_user_registered_in_one_container_logs_in_through_another_on_one_sqlite_file(sam_api_on_sqlite, sqlite_file):
    # Given the API served by sam local start-api on a migrated SQLite file
    assert sam_api_on_sqlite.get("/v1/health").status_code == 200
    email = f"sam-sqlite-{uuid.uuid4().hex[:12]}@example.com"
    credentials = {"email": email, "password": "Sqlite-and-sam-2026!"}
    # When a user registers (RegisterFunction's container), then logs in (LoginFunction's)
    registered = requests.post(sam_api_on_sqlite.url("/v1/auth/register"), json=credentials, timeout=120)
    logged_in = requests.post(sam_api_on_sqlite.url("/v1/auth/login"), json=credentials, timeout=120)
    # Then both succeed: the second container reads what the first wrote
    assert registered.status_code == 201, registered.text
    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.json()["token_type"] == "Bearer"
    # And the user is in the file on the host
    with closing(sqlite3.connect(sqlite_file)) as connection:
        assert connection.execute("SELECT count(*) FROM users WHERE email = ?", (email,)).fetchone() == (1,)
