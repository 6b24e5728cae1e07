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


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_module(dotted: str) -> bool:
    place = ROOT.joinpath(*dotted.split("."))
    return place.with_suffix(".py").is_file() or (place / "__init__.py").is_file()


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private_uses_of(code: str, package: str) -> list[str]:
    """Names with a leading underscore that a module (in ``package``) takes from another
    of our modules: ``from m import _x`` (relative too) and ``m._x`` on a module it
    imported. Submodules such as the C extensions' ``_hmac_tokens`` are not names."""
    modules: dict[str, str] = {}  # local name -> one of our modules
    found: list[str] = []
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(node, package)
            for alias in node.names:
                if _is_module(f"{source}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _is_private(alias.name) and _is_module(source):
                    found.append(f"from {source} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and _is_module(alias.name):
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _is_private(node.attr)
        ):
            found.append(f"{modules[node.value.id]}.{node.attr}")
    return found


def _package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1])


def test_no_module_uses_another_modules_private_names() -> None:
    """A leading underscore means "only this module relies on it": another module that
    reaches for one (the console calling a route's helper, say) is a second path its
    owner cannot see when changing it. Make the helper public where it belongs."""
    wrong = [
        f"{path.relative_to(ROOT)}: {use}"
        for package in PACKAGES
        for path in _modules(package)
        for use in _private_uses_of(path.read_text(encoding="utf-8"), _package_of(path))
    ]
    assert wrong == []


def test_the_checker_sees_a_private_use() -> None:
    """The private-name check can fail: each spelling planted in a module is reported,
    a public name, a dunder and a module's own private helpers are not."""
    planted = (
        "from gateway.web.console.guard import same_origin, _planted\n"
        "from .settings import _hidden, __doc__\n"
        "from audit import chain\n"
        "import audit.scan as scan\n"
        "def _mine() -> None:\n"
        "    chain._gone(); scan._also(); _mine()\n"
    )
    assert sorted(_private_uses_of(planted, "gateway.core")) == [
        "audit.chain._gone",
        "audit.scan._also",
        "from gateway.core.settings import _hidden",
        "from gateway.web.console.guard import _planted",
    ]
