"""The identity of the system behind a source, used to keep departments apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.registration.targets import target_of


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("postgresql", {"url": "postgresql://r@DB.Finance:5432/pay"}),
         ("postgresql", {"url": "postgresql+psycopg://other@db.finance:5432/pay"})),
        (("mysql", {"url": "mysql+pymysql://u@h:3306/d"}),
         ("mysql", {"url": "mysql://v@H:3306/d?charset=utf8mb4"})),
        (("http", {"base_url": "https://api.civil.gov/v1/"}),
         ("http", {"base_url": "https://API.civil.gov/v1"})),
    ],
)
def test_same_system_written_differently_is_one_target(a: tuple, b: tuple) -> None:
    assert target_of(*a) == target_of(*b) is not None


def test_files_and_sqlite_compare_real_paths(tmp_path: Path) -> None:
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    via_link = target_of("parquet", {"root": str(tmp_path / "link")})
    assert target_of("csv", {"root": str(real)}) == via_link
    db = real / "x.db"
    assert target_of("sqlite", {"url": f"sqlite:///{db}"}) == target_of(
        "sqlite", {"url": f"sqlite:///{tmp_path / 'link' / 'x.db'}"}
    )


def test_different_systems_differ() -> None:
    assert target_of("postgresql", {"url": "postgresql://h/a"}) != target_of(
        "postgresql", {"url": "postgresql://h/b"}
    )
    assert target_of("unknown-kind", {}) is None
