"""Builds the API's one OpenAPI document from every function of template.yaml, and finds its breaking changes.

Each function has its own resolver with its own routes; this imports them all and hands their parts
to the layer's `investment_system.http.openapi`, which merges and completes them. The result is
bundled with the layer (`investment_system/openapi.json`), where the docs and catch-all functions
read it at run time. `breaking_changes` compares it with the last released one (docs/openapi/released.json)
with openapi-diff (devtools/package.json), which reads OpenAPI 3.0: both are given to it as 3.0.
"""

from __future__ import annotations

import copy
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from invest_dev.template import TEMPLATE, http_functions, import_function
from investment_system.http.openapi import UNDOCUMENTED_ROUTES, document_part
from investment_system.http.openapi import build_document as merge_parts

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "layers/common/investment_system/openapi.json"
RELEASED = ROOT / "docs/openapi/released.json"
OPENAPI_DIFF = ROOT / "devtools/node_modules/.bin/openapi-diff"


def build_document(template: Path = TEMPLATE) -> dict[str, Any]:
    apps = (getattr(import_function(spec), "app", None) for spec in http_functions(template))
    return merge_parts(document_part(app) for app in apps if app is not None)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def breaking_changes(released: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """openapi-diff's breaking differences from `released` to `current` (code and location), each read as 3.0."""
    with tempfile.TemporaryDirectory() as scratch:
        paths = [Path(scratch) / name for name in ("released.json", "current.json", "report.txt")]
        for path, document in zip(paths, (released, current), strict=False):
            path.write_text(json.dumps(as_openapi_30(document)))
        # Into a file: node may end before a pipe has taken a long report.
        with paths[2].open("w") as report:
            run = subprocess.run(
                [str(OPENAPI_DIFF), *map(str, paths[:2])], stdout=report, stderr=subprocess.PIPE, text=True, check=False
            )
        text = paths[2].read_text()
    if run.returncode == 0 and "{" not in text:  # "No changes found"
        return []
    if run.returncode not in (0, 1) or "{" not in text:
        raise RuntimeError(f"openapi-diff failed ({run.returncode}): {text}{run.stderr}")
    differences = json.loads(text[text.index("{") :]).get("breakingDifferences", [])
    return [f"{difference['code']} at {_location(difference)}" for difference in differences]


def _location(difference: dict[str, Any]) -> str:
    details = difference.get("sourceSpecEntityDetails") or difference["destinationSpecEntityDetails"]
    return str(details[0]["location"])


def declares_a_break(released_version: str, current_version: str) -> bool:
    """Whether `current_version` may break what `released_version` promised: a new major version (before
    1.0, a new minor one, as semantic versioning has it)."""
    released, current = (
        tuple(int(part) for part in version.split(".")[:2]) for version in (released_version, current_version)
    )
    return current[0] > released[0] or (current[0] == released[0] == 0 and current[1] > released[1])


def as_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """The document as OpenAPI 3.0 says it: `nullable` for a null option, `enum` for `const`, boolean exclusive
    bounds, one `example`; without `propertyNames`, which 3.0 lacks."""
    converted = copy.deepcopy(document)
    converted["openapi"] = "3.0.3"
    converted.pop(UNDOCUMENTED_ROUTES, None)
    converted["components"]["schemas"] = {
        name: _schema_30(schema) for name, schema in converted["components"]["schemas"].items()
    }
    for header in converted["components"]["headers"].values():
        header["schema"] = _schema_30(header["schema"])
    for operation in (operation for methods in converted["paths"].values() for operation in methods.values()):
        for parameter in operation.get("parameters", []):
            parameter["schema"] = _schema_30(parameter["schema"])
        bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
        for media in (media for body in bodies for media in body.get("content", {}).values()):
            media["schema"] = _schema_30(media["schema"])
    return converted


def _schema_30(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_schema_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _schema_30(value) for key, value in schema.items()}
    for keyword in ("anyOf", "oneOf"):
        if {"type": "null"} in schema.get(keyword, []):
            options = [option for option in schema.pop(keyword) if option != {"type": "null"}]
            single = options[0] if len(options) == 1 else None
            schema |= {"allOf": options} if single and "$ref" in single else single or {keyword: options}
            schema["nullable"] = True
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    schema.pop("propertyNames", None)  # no 3.0 keyword: the names it constrains are additional fields' only
    for exclusive, inclusive in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if type(schema.get(exclusive)) in (int, float):
            schema[inclusive], schema[exclusive] = schema[exclusive], True
    if isinstance(schema.get("examples"), list):
        examples = schema.pop("examples")
        schema |= {"example": examples[0]} if examples else {}
    return schema
