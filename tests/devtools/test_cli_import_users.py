"""`invest import-users FILE.csv`: accounts of the previous system, with their bcrypt hashes.

Their first login verifies the bcrypt hash and rehashes the password with argon2id; a wrong password
gets the same answer as an unknown email.
"""

from __future__ import annotations

import bcrypt
from sqlalchemy import select

from invest_dev.cli import main
from investment_system.db import unit_of_work
from investment_system.models import AuditEvent, User
from tests.support.accounts import PASSWORD, get_me, login


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


def test_a_row_with_a_nul_or_bidi_name_is_reported_by_line_without_its_hash_or_a_traceback(db, tmp_path, capsys):
    # Given a CSV whose second and third rows hold a NUL and a bidirectional override in the name
    # (PostgreSQL refuses a NUL as text: the row once aborted the import, its hash in the traceback)
    hashes = [_bcrypt(PASSWORD) for _ in range(4)]
    accounts = tmp_path / "users.csv"
    accounts.write_text(
        "email,password_hash,full_name\n"
        f"ada@example.com,{hashes[0]},Ada\n"
        f"nul@example.com,{hashes[1]},Nul\x00Name\n"
        f"bidi@example.com,{hashes[2]},\u202eEvil\n"
        f"grace@example.com,{hashes[3]},Grace\n",
        encoding="utf-8",
    )
    # When it is imported
    assert main(["import-users", str(accounts)]) == 1
    out, err = capsys.readouterr()
    # Then those rows are named by line and field, no hash is printed, and the rows around them come in
    assert "imported 2 users, refused 2" in out
    assert "line 3: full_name:" in err
    assert "line 4: full_name:" in err
    assert not any(h in out + err for h in hashes)
    assert "Traceback" not in err
    assert login("grace@example.com").status == 200


def test_a_row_the_database_refuses_is_reported_by_line_without_its_values(db, tmp_path, capsys, monkeypatch):
    # Given a database that refuses a row with an error quoting the row's values (as a driver's does)
    from sqlalchemy.exc import DataError

    from investment_system.services.accounts import credentials as accounts_service

    secret_hash = _bcrypt(PASSWORD)

    def refusing(imported):
        raise DataError("INSERT INTO users ...", {"password_hash": imported.password_hash}, Exception("refused"))

    monkeypatch.setattr(accounts_service, "import_user", refusing)
    accounts = tmp_path / "users.csv"
    accounts.write_text(f"email,password_hash\nada@example.com,{secret_hash}\n", encoding="utf-8")
    # When it is imported
    assert main(["import-users", str(accounts)]) == 1
    out, err = capsys.readouterr()
    # Then the row is reported by its line and the kind of error only
    assert "line 2: the database refused it (DataError)" in err
    assert secret_hash not in out + err


def test_a_file_that_is_not_utf8_is_reported_not_a_traceback(sqlite_db, tmp_path, capsys):
    accounts = tmp_path / "users.csv"
    accounts.write_bytes(b"email,password_hash\nada@example.com,\xff\xfe\n")
    assert main(["import-users", str(accounts)]) == 1
    out, err = capsys.readouterr()
    assert "not CSV text in UTF-8 (UnicodeDecodeError)" in err
    assert "imported 0 users, refused 1" in out


def test_only_hashes_bcrypt_can_verify_are_imported(db, tmp_path, capsys):
    # Given hashes that look like bcrypt but that bcrypt refuses or that no password can match:
    # a salt ending in a character that holds bits beyond its 16 bytes, a digest likewise, a cost of 03 or 17
    good = _bcrypt(PASSWORD)
    bad_salt = good[:28] + ("P" if good[28] != "P" else "Q") + good[29:]
    bad_digest = good[:59] + "z"
    accounts = tmp_path / "users.csv"
    accounts.write_text(
        "email,password_hash\n"
        f"ada@example.com,{good}\n"
        f"salt@example.com,{bad_salt}\n"
        f"digest@example.com,{bad_digest}\n"
        f"cheap@example.com,{good[:4]}03{good[6:]}\n"
        f"dear@example.com,{good[:4]}17{good[6:]}\n",
        encoding="utf-8",
    )
    # When the file is imported
    assert main(["import-users", str(accounts)]) == 1
    out, err = capsys.readouterr()
    # Then only the verifiable hash comes in; the others are row errors on password_hash
    assert "imported 1 users, refused 4" in out
    for line in (3, 4, 5, 6):
        assert f"line {line}: password_hash:" in err
    assert login("ada@example.com").status == 200


def test_the_import_pattern_accepts_exactly_the_salts_bcrypt_accepts():
    # Given a bcrypt hash, and each character of bcrypt's alphabet in the salt's last place
    import re

    from investment_system.schemas.users import BCRYPT_HASH

    good = _bcrypt("x")
    for character in "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789":
        candidate = good[:28] + character + good[29:]
        try:
            bcrypt.checkpw(b"x", candidate.encode())
            verifiable = True
        except ValueError:
            verifiable = False
        # Then the import's pattern takes it exactly when bcrypt can check a password against it
        assert bool(re.fullmatch(BCRYPT_HASH, candidate)) == verifiable, candidate
