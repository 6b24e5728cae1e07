"""The import directions of ``docs/architecture.md``, read from the code itself.

Each room may import its own modules and the rooms below it, never a room above: so a
reader (and mypy) can follow any call downwards, and the console, new rules or new
sources land where the drawing says. The test parses every product module's imports
(including those inside functions, which is where a cycle would hide).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# top-level packages, highest first: each may import only those after it
PACKAGES = ["gateway", "policies", "adapters", "audit", "catalog"]
# within each of them, who is a peer of whom (peers may not import each other)
PEERS = {"policies": {"adapters", "audit"}, "adapters": {"policies", "audit"},
         "audit": {"policies", "adapters"}}  # fmt: skip

# rooms inside gateway/, highest first
GATEWAY_ROOMS = ["cli", "web", "wiring", "stewardship", "enforcement", "auth", "core"]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            # ``from gateway import web`` names a room through its attribute
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_top_level_packages_import_only_downwards() -> None:
    wrong = []
    for rank, package in enumerate(PACKAGES):
        above = set(PACKAGES[:rank]) | PEERS.get(package, set())
        for path in _modules(package):
            for name in _imports(path):
                if name.split(".")[0] in above:
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "gateway" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in GATEWAY_ROOMS else None


def test_gateway_rooms_import_only_downwards() -> None:
    wrong = []
    for path in _modules("gateway"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 3:  # gateway/__init__.py
            continue
        own = rel.parts[1]
        assert own in GATEWAY_ROOMS, f"{rel}: a module outside the rooms of docs/architecture.md"
        above = set(GATEWAY_ROOMS[: GATEWAY_ROOMS.index(own)])
        for name in _imports(path):
            room = _room(name)
            if room in above:
                wrong.append(f"{rel} imports {name}")
    assert wrong == []


def test_gateway_has_no_loose_modules() -> None:
    loose = [p.name for p in (ROOT / "gateway").glob("*.py") if p.name != "__init__.py"]
    assert loose == [], "every gateway module lives in a room (docs/architecture.md)"


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    """The test itself can fail: an upward import planted in a file is reported."""
    planted = tmp_path / "m.py"
    planted.write_text("def f():\n    from gateway.web.app import create_app\n")
    assert "gateway.web.app" in _imports(planted)
    assert _room("gateway.web.app") == "web"


def test_gateway_tests_mirror_the_rooms() -> None:
    """A test of a room lives in that room's folder, so a reader finds it where the code is."""
    tests = ROOT / "tests" / "gateway"
    loose = sorted(p.name for p in tests.glob("test_*.py"))
    assert not loose, f"tests/gateway/ holds tests outside any room: {loose}"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and p.name != "__pycache__"}
    strays = folders - set(GATEWAY_ROOMS)
    assert not strays, f"test folders that are not rooms: {strays}"
    for room in folders:
        for test in (tests / room).rglob("test_*.py"):
            sub = test.relative_to(tests / room).parts[:-1]
            code = (ROOT / "gateway" / room).joinpath(*sub)
            assert code.is_dir(), f"{test}: no {code.relative_to(ROOT)} beside it"
