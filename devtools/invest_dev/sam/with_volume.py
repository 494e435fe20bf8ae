"""`sam` with one read-write directory mounted in every function's container, run by the SAM CLI venv's Python:
`.venv-sam/bin/python with_volume.py HOST_DIR CONTAINER_DIR <sam's arguments>`. The functions of a `sam local`
run share a SQLite file so (local.py). SAM has no option for it: `Container.create` (samcli/local/docker/
container.py) mounts the code read-only, the top-level symlinks read-only (`_create_mapped_symlink_files`,
--mount-symlinks or not) and the additional volumes, for a function only the debugger's (read-only, from
`LambdaContainer._get_additional_volumes`); layers are copied into the image. This adds the directory to
those volumes (tests/devtools/test_sam_sqlite.py checks it, for the aws-sam-cli that sam-requirements.txt pins).
"""

from __future__ import annotations

import sys
from typing import Any


def main(argv: list[str]) -> Any:
    from samcli.cli.main import cli  # type: ignore[import-not-found]
    from samcli.local.docker.lambda_container import LambdaContainer  # type: ignore[import-not-found]

    host_dir, container_dir, *arguments = argv
    debugger_volumes = LambdaContainer._get_additional_volumes

    def volumes(runtime: str, debug_options: Any) -> dict[str, dict[str, str]]:
        return {**debugger_volumes(runtime, debug_options), host_dir: {"bind": container_dir, "mode": "rw"}}

    LambdaContainer._get_additional_volumes = staticmethod(volumes)
    sys.argv = ["sam", *arguments]
    return cli()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
