"""Comments that do not age: no measured cost in a comment or docstring, module docstrings kept short.

Measured costs belong to docs/benchmarks.md (which `make bench` regenerates) and docs/cold-start.md;
a figure copied into the code goes stale unseen. Settings and limits of the contract are not costs:
the patterns catch what a measurement reads like (a tilde, "about", a unit of time smaller than a second).
"""

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from invest_dev.template import ROOT

SOURCES = ("layers/common/investment_system", "functions", "devtools/invest_dev", "tests")
COMMENTED_FILES = ("Makefile", "layers/common/Makefile", "template.yaml")
MODULE_DOCSTRING_LINES = 10

# "~45 ms", "about 0.9 s", "(~30 ms)", "50 µs", "1.05 s instead of 0.35 s", "3 times faster", "~35%"
MEASURED = re.compile(
    r"(~|\babout |\baround |\broughly )\s?\d[\d.,]*\s?(µs|us|ms|s|%|x|kB|KB|KiB|MB|MiB)(?![\w])"
    r"|\b\d[\d.,]*\s?(µs|ms)(?![\w])"
    r"|\b\d[\d.,]*\s?s instead of\b"
    r"|\b\d[\d.,]*\s?(x|times) (faster|slower|quicker)\b",
)


def _python_files():
    for source in SOURCES:
        for path in sorted((ROOT / source).rglob("*.py")):
            if "versions" not in path.parts and path != Path(__file__):
                yield path


def _docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                value = body[0].value.value
                if isinstance(value, str):
                    yield body[0].lineno, value


def _python_prose(path):
    """(line, text) of each comment and docstring line of a Python file."""
    text = path.read_text()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for first, docstring in _docstrings(ast.parse(text)):
        for offset, line in enumerate(docstring.splitlines()):
            yield first + offset, line


def _hash_comments(path):
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if "#" in line:
            yield number, line[line.index("#") :]


def _measured_figures():
    found = []
    for path in _python_files():
        found += [(path, number, line) for number, line in _python_prose(path) if MEASURED.search(line)]
    for name in COMMENTED_FILES:
        path = ROOT / name
        found += [(path, number, line) for number, line in _hash_comments(path) if MEASURED.search(line)]
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()}" for path, number, line in found]


def test_no_comment_or_docstring_quotes_a_measured_cost():
    # Given every comment and docstring of the layer, the functions, the dev tools, the tests, the
    # Makefiles and the template
    # When they are searched for what a measurement reads like
    found = _measured_figures()
    # Then none quotes one: the numbers live in docs/benchmarks.md and docs/cold-start.md
    assert not found, "measured costs in comments (say why, not how much):\n" + "\n".join(found)


def test_module_docstrings_say_what_and_why_in_a_few_lines():
    # Given every module of the layer, the functions, the dev tools and the tests
    long = []
    for path in _python_files():
        docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        # When its docstring is longer than the cap
        if docstring and len(docstring.splitlines()) > MODULE_DOCSTRING_LINES:
            long.append(f"{path.relative_to(ROOT)}:1: {len(docstring.splitlines())} lines")
    # Then it is found: the detail a reader needs goes to the matching docs/*.md page
    assert not long, f"module docstrings over {MODULE_DOCSTRING_LINES} lines:\n" + "\n".join(long)


@pytest.mark.parametrize(
    "line",
    ["# sqlalchemy.orm is ~45 ms of cold start", "# (about 0.9 s of imports)", "`CurrentUser`: 50 µs a request"],
)
def test_the_pattern_finds_a_measured_cost(line):
    assert MEASURED.search(line)


@pytest.mark.parametrize(
    "line",
    ["# Above the database statement timeout (10 s)", "# a message over 4 KiB", "# 512 MB buys CPU", "p50 ms"],
)
def test_the_pattern_leaves_settings_and_limits_alone(line):
    assert not MEASURED.search(line)
