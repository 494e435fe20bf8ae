"""The paths and modules README.md and docs/*.md name exist: a move or a rename that leaves a page behind fails."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "investment_system"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Where a path may start: the repository's folders, the layer's packages, the layer and the dev tools themselves.
BASES = {
    **{path.name: ROOT for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")},
    **{path.name: LAYER for path in LAYER.iterdir() if path.is_dir() and path.name != "__pycache__"},
    "investment_system": LAYER.parent,
    "invest_dev": ROOT / "devtools",
}
_PATH = re.compile(r"(?<![\w/.:-])((?:" + "|".join(map(re.escape, BASES)) + r")/[\w./-]*\w/?)")
_MODULE = re.compile(r"(?<![\w.])((?:investment_system|invest_dev)(?:\.\w+)+)")
# Named, but not files: the walk-through's endpoint to be written, and the models-and-db layer of the import chain.
NOT_PATHS = {
    "functions/signals/get_signal_notes.py",
    "services/signals/notes.py",
    "events/GetSignalNotesFunction.json",
    "models/db",
}


def _path_exists(mention: str) -> bool:
    path = BASES[mention.split("/", 1)[0]] / mention
    if path.exists():
        return True
    module, _, attribute = path.name.partition(".")  # `services/signals/quota.create_signal_within_quota`
    return bool(attribute) and attribute != "py" and path.with_name(module + ".py").exists()


def _module_exists(mention: str) -> bool:
    first, *names = mention.split(".")
    path = (LAYER.parent if first == "investment_system" else ROOT / "devtools") / first
    for name in names:
        if (path / name).is_dir() or (path / f"{name}.py").exists():
            path = path / name
        else:  # an attribute: of a module, or one its package's __init__ names
            return path.with_suffix(".py").exists() or re.search(rf"\b{name}\b", (path / "__init__.py").read_text())
    return True


def test_every_path_and_module_a_page_names_exists():
    # Given every layer, function, test and tool path, and every module, README.md and the docs name
    missing = [
        f"{page.relative_to(ROOT)}:{number}: {mention}"
        for page in PAGES
        for number, line in enumerate(page.read_text().splitlines(), 1)
        for mention, exists in [
            *((path, _path_exists(path)) for path in _PATH.findall(line) if path.rstrip("/") not in NOT_PATHS),
            *((module, _module_exists(module)) for module in _MODULE.findall(line)),
        ]
        if not exists
    ]
    # Then each exists in the tree
    assert not missing, "pages name what is not in the tree:\n" + "\n".join(missing)
