"""`invest create-admin --email E`: the first administrator, made from the command line."""

from __future__ import annotations

import getpass

from invest_dev.cli import main
from tests.support.accounts import PASSWORD, get_me, login


def test_create_admin_with_the_password_from_the_environment(sqlite_db, monkeypatch, capsys):
    # Given the password in INVEST_ADMIN_PASSWORD
    monkeypatch.setenv("INVEST_ADMIN_PASSWORD", PASSWORD)
    # When the operator runs create-admin
    assert main(["create-admin", "--email", "Root@Example.com"]) == 0
    # Then the administrator exists and can log in with that password, with the admin role
    assert "created administrator root@example.com" in capsys.readouterr().out
    tokens = login("root@example.com").json
    assert get_me(tokens["access_token"]).json["role"] == "admin"


def test_create_admin_prompts_for_the_password_twice(sqlite_db, monkeypatch):
    monkeypatch.delenv("INVEST_ADMIN_PASSWORD", raising=False)
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert main(["create-admin", "--email", "root@example.com"]) == 0
    assert login("root@example.com").status == 200


def test_create_admin_refuses_mismatched_weak_or_taken(sqlite_db, monkeypatch, capsys):
    monkeypatch.delenv("INVEST_ADMIN_PASSWORD", raising=False)
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert main(["create-admin", "--email", "root@example.com"]) == 1
    assert "differ" in capsys.readouterr().err

    monkeypatch.setenv("INVEST_ADMIN_PASSWORD", "admin")
    assert main(["create-admin", "--email", "root@example.com"]) == 1
    err = capsys.readouterr().err
    assert "password policy" in err
    assert "at least" in err  # each failed rule is listed

    monkeypatch.setenv("INVEST_ADMIN_PASSWORD", PASSWORD)
    assert main(["create-admin", "--email", "root@example.com"]) == 0
    assert main(["create-admin", "--email", "ROOT@example.com"]) == 1
    assert "already registered" in capsys.readouterr().err
    assert login("root@example.com", "admin").status == 401
