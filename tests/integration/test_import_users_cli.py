"""`invest import-users FILE.csv`: accounts of the previous system, with their bcrypt hashes.

Their first login verifies the bcrypt hash and rehashes the password with argon2id; a wrong password
gets the same answer as an unknown email.
"""

from __future__ import annotations

import bcrypt
from account_support import PASSWORD, get_me, login
from sqlalchemy import select

from invest_dev.cli import main
from investment_system.db import unit_of_work
from investment_system.models import AuditEvent, User


def _bcrypt(password: str) -> str:
    """A hash as the previous system made it: bcrypt of the password's first 72 bytes (all bcrypt reads)."""
    return bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()


def _stored_hash(email: str) -> str:
    with unit_of_work() as session:
        return session.scalars(select(User.password_hash).where(User.email == email)).one()


def test_imported_accounts_sign_in_with_their_old_password_and_move_to_argon2(db, tmp_path, capsys):
    # Given a CSV of the previous system's accounts, one of them with a long password (bcrypt reads 72 bytes)
    long_password = "Ünïcödé-Pässwörd-" * 6
    accounts = tmp_path / "users.csv"
    accounts.write_text(
        "email,password_hash,full_name\n"
        f"Ada@Example.com,{_bcrypt(PASSWORD)},Ada Lovelace\n"
        f"grace@example.com,{_bcrypt(long_password)},\n",
        encoding="utf-8",
    )
    # When the operator imports it
    assert main(["import-users", str(accounts)]) == 0
    assert "imported 2 users, refused 0" in capsys.readouterr().out
    assert _stored_hash("ada@example.com").startswith("$2b$")
    # Then a wrong password is refused like an unknown email, and the hash stays as it was
    wrong, unknown = login("ada@example.com", "Wrong-Password-000"), login("nobody@example.com", "Wrong-Password-000")
    assert (wrong.status, wrong.error_code, wrong.json["error"]["message"]) == (
        unknown.status,
        unknown.error_code,
        unknown.json["error"]["message"],
    )
    assert _stored_hash("ada@example.com").startswith("$2b$")
    # And the right one signs in, after which the password is stored as argon2id (and still works)
    tokens = login("ada@example.com", PASSWORD)
    assert tokens.status == 200, tokens.text
    assert get_me(tokens.json["access_token"]).json["full_name"] == "Ada Lovelace"
    assert _stored_hash("ada@example.com").startswith("$argon2id$")
    assert login("ada@example.com", PASSWORD).status == 200
    assert login("grace@example.com", long_password).status == 200
    with unit_of_work() as session:
        actions = list(session.scalars(select(AuditEvent.action)))
    assert actions.count("imported") == 2
    assert actions.count("password_rehashed") == 2


def test_rows_that_cannot_come_in_are_reported_and_the_rest_still_do(db, tmp_path, capsys):
    # Given a CSV with a good row, a lookalike address, a hash that is not bcrypt, and a taken address
    accounts = tmp_path / "users.csv"
    accounts.write_text(
        "email,password_hash\n"
        f"ada@example.com,{_bcrypt(PASSWORD)}\n"
        f"admin@example.com\u200b,{_bcrypt(PASSWORD)}\n"
        "bob@example.com,md5:5f4dcc3b5aa765d61d8327deb882cf99\n"
        f"ADA@example.com,{_bcrypt(PASSWORD)}\n",
        encoding="utf-8",
    )
    # When it is imported
    assert main(["import-users", str(accounts)]) == 1
    out, err = capsys.readouterr()
    # Then each refused row is named with its reason, never echoing a hash, and the good one is in
    assert "imported 1 users, refused 3" in out
    assert "line 3: email:" in err
    assert "ZERO WIDTH SPACE" in err
    assert "line 4: password_hash:" in err
    assert "5f4dcc3b" not in err
    assert "line 5: This email is already registered." in err
    assert login("ada@example.com").status == 200
    # And a file without the expected columns is refused before anything is read
    (tmp_path / "other.csv").write_text("mail,hash\nx@example.com,y\n", encoding="utf-8")
    assert main(["import-users", str(tmp_path / "other.csv")]) == 1
    assert "columns must be email, password_hash, full_name" in capsys.readouterr().err
