"""The Lambda Python 3.13 runtime image `sam local` runs the functions in, built from Debian packages.

No registry is needed: a Debian root filesystem (debootstrap) with python3.13, the runtime interface
client and boto3 in /var/runtime, and the Runtime Interface Emulator the SAM CLI wheel ships, imported
under the tag SAM looks for. The image carries a hash of its inputs as a label: it is rebuilt only
when they change (docs/development.md#sam-local).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from invest_dev.template import ROOT

HERE = Path(__file__).resolve().parent
SUITE = "trixie"  # Debian's release whose python3.13 is the runtime's Python
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3.13", "ca-certificates", "tzdata")
INPUTS_LABEL = "invest.sam.inputs"
SAM_VENV = ROOT / ".venv-sam"
# What the image's files are, beside what debootstrap installs: the bootstrap, the entry point, the
# runtime's Python packages.
RUNTIME_FILES = ("bootstrap", "lambda-entrypoint.sh", "runtime-requirements.txt")
ENVIRONMENT = {
    "LANG": "C.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/runtime/lib:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
}
# Where Debian's packages keep what no function reads.
_TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "var/lib/apt")


class ImageError(RuntimeError):
    """The image cannot be built here; the message says what to run."""


@dataclass(frozen=True)
class RuntimeImage:
    architecture: str  # Lambda's name: x86_64 or arm64

    @property
    def tag(self) -> str:
        """The tag `sam local` uses for the python3.13 runtime (it pulls none with --skip-pull-image)."""
        return f"public.ecr.aws/lambda/python:3.13-{self.architecture}"

    @property
    def wheel_platform(self) -> str:
        return {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}[self.architecture]

    @property
    def emulator(self) -> Path:
        """The Runtime Interface Emulator of the SAM CLI wheel (the one `sam local` mounts as well)."""
        name = f"aws-lambda-rie-{self.architecture}"
        found = sorted(SAM_VENV.glob(f"lib/python*/site-packages/samcli/local/rapid/{name}"))
        if not found:
            raise ImageError(f"no {name} in {SAM_VENV}; run: make {SAM_VENV.name}/.installed")
        return found[0]

    def inputs_hash(self) -> str:
        """What the image is made of: a change to any of it makes another image."""
        digest = hashlib.sha256()
        for part in (self.architecture, SUITE, MIRROR, *PACKAGES, *sorted(ENVIRONMENT.items())):
            digest.update(repr(part).encode())
        for name in RUNTIME_FILES:
            digest.update((HERE / name).read_bytes())
        digest.update(self.emulator.read_bytes())
        return digest.hexdigest()

    def built_hash(self) -> str | None:
        """The inputs' hash of the image under the tag, None when there is none."""
        inspected = subprocess.run(
            ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{INPUTS_LABEL}"}}}}', self.tag],
            capture_output=True,
            text=True,
        )
        return inspected.stdout.strip() or None if inspected.returncode == 0 else None

    def ensure(self, log: Callable[[str], object] = print) -> bool:
        """Build the image unless the one under the tag has these inputs; whether it built one."""
        wanted = self.inputs_hash()
        if self.built_hash() == wanted:
            return False
        log(f"sam image: building {self.tag} from Debian {SUITE} (inputs {wanted[:12]})")
        with tempfile.TemporaryDirectory(prefix="invest-sam-rootfs-", dir=_scratch_dir()) as scratch:
            rootfs = Path(scratch) / "rootfs"
            self._debootstrap(rootfs)
            self._install_runtime(rootfs)
            self._import(rootfs, wanted)
        return True

    def _debootstrap(self, rootfs: Path) -> None:
        if self.architecture != host_architecture():
            raise ImageError(
                f"the {self.architecture} image is built on an {self.architecture} machine only (this one is "
                f"{host_architecture()}); run sam local for the host's architecture"
            )
        if shutil.which("debootstrap") is None:
            raise ImageError("debootstrap is not installed; run: apt-get install debootstrap")
        if os.geteuid() != 0:
            raise ImageError("debootstrap needs root; run as root (sudo make ...)")
        command = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR]
        _run(command, "debootstrap")
        for relative in _TRIMMED:
            shutil.rmtree(rootfs / relative, ignore_errors=True)

    def _install_runtime(self, rootfs: Path) -> None:
        runtime = rootfs / "var/runtime"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:"]
        pip += ["--platform", self.wheel_platform, "--implementation", "cp", "--python-version", "3.13"]
        _run([*pip, "--target", str(runtime), "-r", str(HERE / "runtime-requirements.txt")], "pip install")
        shutil.copy2(HERE / "bootstrap", runtime / "bootstrap")
        shutil.copy2(HERE / "lambda-entrypoint.sh", rootfs / "lambda-entrypoint.sh")
        shutil.copy2(self.emulator, rootfs / "usr/local/bin/aws-lambda-rie")
        for path in (runtime / "bootstrap", rootfs / "lambda-entrypoint.sh", rootfs / "usr/local/bin/aws-lambda-rie"):
            path.chmod(0o755)
        (rootfs / "var/task").mkdir(parents=True, exist_ok=True)
        (rootfs / "opt").mkdir(exist_ok=True)
        # /var/runtime is read-only in Lambda and ships compiled: no cold start compiles boto3.
        compile_all = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
        _run([*compile_all, "-s", str(rootfs), "-p", "/", str(runtime)], "compileall")

    def _import(self, rootfs: Path, inputs: str) -> None:
        changes = [f"ENV {name}={value}" for name, value in ENVIRONMENT.items()]
        changes += [
            "WORKDIR /var/task",
            'ENTRYPOINT ["/lambda-entrypoint.sh"]',
            f"LABEL {INPUTS_LABEL}={inputs}",
        ]
        command = ["docker", "import", *(arg for change in changes for arg in ("--change", change)), "-", self.tag]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(command, stdin=tar.stdout, capture_output=True, text=True)
        tar.wait()
        if tar.returncode != 0 or imported.returncode != 0:
            raise ImageError(f"docker import failed: {imported.stderr.strip()}")


def host_architecture() -> str:
    """This machine's architecture, as Lambda names it."""
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _scratch_dir() -> Path:
    scratch = ROOT / ".local" / "sam"
    scratch.mkdir(parents=True, exist_ok=True)
    return scratch


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise ImageError(f"{what} failed ({done.returncode}):\n{tail}")
