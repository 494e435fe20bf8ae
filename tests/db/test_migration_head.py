"""The newest migration's revision, found from the scripts without Alembic (db/migrate.py)."""

from pathlib import Path

import pytest

from investment_system.db.migrate import head_revision


def _script(versions: Path, revision: str, down_revision: str | tuple[str, ...] | None) -> None:
    (versions / f"{revision}_change.py").write_text(
        f'"""A change.\n\nRevision ID: {revision}\nRevises: {down_revision}\n"""\n\n'
        "from collections.abc import Sequence\n\n"
        f"revision: str = {revision!r}\n"
        f"down_revision: str | Sequence[str] | None = {down_revision!r}\n"
        "branch_labels: str | Sequence[str] | None = None\n\n\n"
        "def upgrade() -> None:\n    pass\n"
    )


def test_a_new_migration_is_the_head_without_naming_it_anywhere_else(tmp_path):
    # Given a chain of migrations
    _script(tmp_path, "0001", None)
    _script(tmp_path, "0002", "0001")
    assert head_revision(tmp_path) == "0002"
    # When a migration revising the newest one is added
    _script(tmp_path, "0003", "0002")
    # Then it is the head
    assert head_revision(tmp_path) == "0003"


def test_a_merge_migration_is_the_single_head_of_the_branches_it_joins(tmp_path):
    # Given two migrations on the same parent, joined by a merge migration
    _script(tmp_path, "0001", None)
    _script(tmp_path, "0002", "0001")
    _script(tmp_path, "0003", "0001")
    _script(tmp_path, "0004", ("0002", "0003"))
    # Then the merge is the head
    assert head_revision(tmp_path) == "0004"


def test_two_heads_fail_naming_them(tmp_path):
    # Given two migrations on the same parent and no merge
    _script(tmp_path, "0001", None)
    _script(tmp_path, "0002", "0001")
    _script(tmp_path, "0003", "0001")
    # Then finding the head fails, naming both
    with pytest.raises(RuntimeError, match=r"\['0002', '0003'\]"):
        head_revision(tmp_path)


def test_a_script_without_a_revision_fails_naming_it(tmp_path):
    # Given a script in the versions folder that assigns no revision
    _script(tmp_path, "0001", None)
    (tmp_path / "0002_draft.py").write_text("down_revision = '0001'\n")
    # Then finding the head fails, naming the script
    with pytest.raises(RuntimeError, match=r"0002_draft\.py"):
        head_revision(tmp_path)
