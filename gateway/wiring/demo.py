"""Sets up the embedded demo: departments' data, catalog entries, users and their roles.

Idempotent: existing demo files are reused, catalog rows are upserted, role
assignments are added only when missing. Shared by ``sluice demo`` and the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from catalog.demo.generator import GenerationReport, Sizes, generate
from catalog.demo.install import install_demo_catalog
from catalog.demo.targets import SqliteTarget, Target
from catalog.demo.users import DEMO_USERS
from gateway.core.services import Services

DEMO_TABLES = ("finance.db", "civil.db", "audit.db")

Progress = Callable[[str, int, int], None]


@dataclass
class DemoSetup:
    data_dir: Path
    generated: GenerationReport | None


def demo_data_present(data_dir: Path) -> bool:
    return all((data_dir / name).exists() for name in DEMO_TABLES)


def assign_demo_roles(services: Services) -> None:
    """Casbin role assignments of the demo users: global roles in ``*``, stewards in
    their own department only; those held already are left as they are. One load and
    one write (``Authorizer.assign_all``), not one of each per user."""
    services.authorizer.assign_all([
        (user["subject"], role, user["department"] if role == "steward" else "*")
        for user in DEMO_USERS for role in user["roles"]
    ])  # fmt: skip


def setup_demo(
    services: Services,
    *,
    seed: int = 42,
    sizes: Sizes | None = None,
    extra_targets: list[Target] | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> DemoSetup:
    data_dir = services.settings.demo_data_dir.resolve()
    report = None
    if force or not demo_data_present(data_dir):
        targets: list[Target] = [SqliteTarget(data_dir), *(extra_targets or [])]
        report = generate(seed=seed, sizes=sizes, targets=targets, progress=progress)
    with services.sessions() as session:
        install_demo_catalog(session=session, data_dir=data_dir)
        session.commit()
    assign_demo_roles(services)
    return DemoSetup(data_dir=data_dir, generated=report)
