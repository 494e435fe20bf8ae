"""What a cold start downloads and unpacks: the unzipped size of the layer and of each function, as
`make build` leaves them in .aws-sam/build (sources and the bytecode it compiles)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from invest_dev.template import ROOT

BUILD = ROOT / ".aws-sam" / "build"
LAYER = BUILD / "CommonLayer" / "python"
# The layer's pip install before and after the build left out what no function loads (layers/common/slim_layer.py).
SLIMMING = BUILD / "CommonLayer.slim.json"
TOP_PACKAGES = 8


@dataclass
class Sizes:
    built_at: dt.datetime
    layer_bytes: int
    packages: list[tuple[str, int]]  # the layer's largest top-level packages, largest first
    functions: dict[str, int]
    layer_before_slimming: int | None = None  # the same packages as pip installs them


def tree_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def build_sizes(function_names: list[str]) -> Sizes | None:
    """The sizes of the last `make build`, or None when there is none."""
    if not LAYER.is_dir():
        return None
    packages = {
        entry.name: tree_bytes(entry) if entry.is_dir() else entry.stat().st_size
        for entry in LAYER.iterdir()
        if not entry.name.endswith((".dist-info", ".egg-info")) and entry.name != "__pycache__"
    }
    return Sizes(
        built_at=dt.datetime.fromtimestamp(LAYER.stat().st_mtime, dt.UTC),
        layer_bytes=tree_bytes(LAYER),
        packages=sorted(packages.items(), key=lambda item: -item[1])[:TOP_PACKAGES],
        functions={name: tree_bytes(BUILD / name) for name in function_names if (BUILD / name).is_dir()},
        layer_before_slimming=json.loads(SLIMMING.read_text())["before_bytes"] if SLIMMING.is_file() else None,
    )


def mib(size: int) -> str:
    return f"{size / 2**20:.1f}"


def size_table(sizes: Sizes | None) -> str:
    if sizes is None:
        return "No build in .aws-sam/build: run `make build` first to have the sizes reported.\n"
    packages = ", ".join(f"{name} {mib(size)}" for name, size in sizes.packages)
    rows = [f"| the layer (CommonLayer) | {mib(sizes.layer_bytes)} MiB |"]
    if sizes.layer_before_slimming is not None:
        rows.insert(
            0, f"| the layer as pip installs it, before the build slims it | {mib(sizes.layer_before_slimming)} MiB |"
        )
    rows += [f"| {name} | {size / 1024:.0f} KiB |" for name, size in sorted(sizes.functions.items())]
    return (
        f"`make build` of {sizes.built_at:%Y-%m-%d %H:%M} UTC. The layer's largest packages (MiB): {packages}.\n\n"
        "| unzipped | size |\n|---|---:|\n" + "\n".join(rows) + "\n"
    )
