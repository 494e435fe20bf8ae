"""Every file generated from the template and the code, rewritten by one command: `invest generate`.

- layers/common/investment_system/openapi.json: the OpenAPI document the docs and catch-all serve;
- monitoring/template.yaml: the dashboard and alarms, a nested stack of template.yaml;
- the `Monitoring` resource of template.yaml (between its GENERATED markers).

A test compares each file with what this module produces now, so none goes stale unnoticed.
"""

from __future__ import annotations

from pathlib import Path

from invest_dev import monitoring
from invest_dev.openapi import BUNDLED, build_document, render
from invest_dev.template import TEMPLATE


def generated_files(template: Path = TEMPLATE) -> dict[Path, str]:
    """Each generated file and the text it should have now."""
    return {BUNDLED: render(build_document(template)), **monitoring.generated_files(template)}


def write_generated(template: Path = TEMPLATE) -> list[Path]:
    """Rewrite every generated file that differs; the ones that changed."""
    changed = []
    for path, text in generated_files(template).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
