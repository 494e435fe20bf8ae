"""Builds the API's one OpenAPI document from every function of template.yaml.

Each function has its own resolver with its own routes; this imports them all and hands their parts
to the layer's `investment_system.http.openapi`, which merges and completes them. The result is
bundled with the layer (`investment_system/openapi.json`), where the docs and catch-all functions
read it at run time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from invest_dev.template import TEMPLATE, http_functions, import_function
from investment_system.http.openapi import build_document as merge_parts
from investment_system.http.openapi import document_part

BUNDLED = Path(__file__).resolve().parents[2] / "layers/common/investment_system/openapi.json"


def build_document(template: Path = TEMPLATE) -> dict[str, Any]:
    apps = (getattr(import_function(spec), "app", None) for spec in http_functions(template))
    return merge_parts(document_part(app) for app in apps if app is not None)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
