"""The policy modules on disk: loading, their version, and OPA bundle tarballs.

``policy_version`` is the SHA-256 over the decision modules (test modules excluded:
they cannot change a decision), so the version in an audit event names exactly the
Rego that decided. An OPA server gets the same modules, plus the version as data,
as a bundle (``sluice policy bundle``).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REGO_DIR = Path(__file__).parent / "rego"
QUERY = "x = data.sluice.decision.decision"
DOCUMENT = "sluice/decision/decision"
"""The entrypoint, as an OPA REST path (``POST /v1/data/sluice/decision/decision``)."""
META_ROOT = "sluice_meta"
"""Data root carrying ``policy_version`` so the engine that decided reports its bundle."""


@dataclass(frozen=True)
class PolicySet:
    """The decision modules of one directory at one moment, and their version."""

    modules: dict[str, str]  # relative path -> source
    tests: dict[str, str]  # relative path -> source of *_test.rego
    version: str

    def meta_data(self) -> dict[str, dict[str, str]]:
        return {META_ROOT: {"policy_version": self.version}}


def is_test_module(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def rego_files(rego_dir: Path) -> list[Path]:
    """Every ``.rego`` file under ``rego_dir``, sorted so the version is stable."""
    return sorted(p for p in rego_dir.rglob("*.rego") if p.is_file())


def fingerprint(rego_dir: Path) -> tuple[tuple[str, str], ...]:
    """Change detector: name and content digest of every file. Reading a few small
    files is cheap at the checking rate (at most once a second by default) and, unlike
    mtimes, never misses a same-size edit within the clock's resolution."""
    return tuple(
        (str(path), hashlib.sha256(path.read_bytes()).hexdigest()) for path in rego_files(rego_dir)
    )


def policy_version(modules: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode() + b"\0" + modules[name].encode() + b"\0")
    return digest.hexdigest()


def load_policy_set(rego_dir: Path = DEFAULT_REGO_DIR) -> PolicySet:
    """Read the modules; an empty directory is an error (it would decide nothing)."""
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    for path in rego_files(rego_dir):
        name = path.relative_to(rego_dir).as_posix()
        (tests if is_test_module(path) else modules)[name] = path.read_text(encoding="utf-8")
    if not modules:
        raise FileNotFoundError(f"no Rego modules under {rego_dir}")
    return PolicySet(modules=modules, tests=tests, version=policy_version(modules))


def write_bundle(policy_set: PolicySet, target: Path) -> Path:
    """Write an OPA bundle tarball (``.manifest``, ``data.json``, the modules).

    Load it with ``opa run --server --bundle <target>`` or a bundle service. The
    manifest's revision is the policy version; roots keep the bundle from
    claiming other packages on a shared server.
    """
    manifest = {"revision": policy_set.version, "roots": ["sluice", META_ROOT]}
    files: dict[str, bytes] = {
        ".manifest": json.dumps(manifest, sort_keys=True).encode(),
        "data.json": json.dumps(policy_set.meta_data(), sort_keys=True).encode(),
    }
    for name, source in policy_set.modules.items():
        files[f"policies/{name}"] = source.encode()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name=f"/{name}")
            info.size = len(files[name])
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return target


def read_bundle(path: Path) -> tuple[dict[str, str], dict[str, object]]:
    """Modules and data of a bundle tarball (for servers and tests loading one)."""
    modules: dict[str, str] = {}
    data: dict[str, object] = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            if handle is None:
                continue
            body = handle.read().decode("utf-8")
            name = member.name.lstrip("/")
            if name.endswith(".rego"):
                modules[name] = body
            elif name.endswith("data.json"):
                data.update(json.loads(body))
    return modules, data
