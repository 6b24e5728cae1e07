"""The effective target of a source: one normalised identity however it is spelled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.base import AdapterLimits, SourceConfig
from catalog.errors import BadRequest, Forbidden
from gateway.core.settings import load_settings
from gateway.enforcement.sources.targets import EffectiveTarget, effective_target, stored_target


def target(kind: str, settings: dict[str, object], secret: str | None = None) -> EffectiveTarget:
    found = effective_target(SourceConfig(kind, dict(settings), secret), None)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("postgresql", {"url": "postgresql://r@LocalHost:5432/pay"}),
         ("postgresql", {"url": "postgresql+psycopg://other@127.0.0.1/pay"})),
        (("postgresql", {"url": "postgresql://r@127.0.0.1/pay"}),
         ("postgresql", {"url": "postgresql://r@2130706433:5432/pay"})),
        (("mysql", {"url": "mysql+pymysql://u@127.0.0.1:3306/d"}),
         ("mysql", {"url": "mariadb://v@localhost/D?charset=utf8mb4"})),
        (("mysql", {"url": "mysql://u@127.0.0.1/mine", "schema": "d"}),
         ("mysql", {"url": "mysql://u@127.0.0.1/d"})),
        (("http", {"base_url": "https://api.civil.gov/v1/"}),
         ("http", {"base_url": "https://API.civil.gov:443/v1/people"})),
    ],
)  # fmt: skip
def test_same_system_written_differently_is_one_target(a: tuple, b: tuple) -> None:
    assert target(*a).same_system(target(*b))
    assert target(*b).same_system(target(*a))


def test_different_systems_differ() -> None:
    one = target("postgresql", {"url": "postgresql://u@127.0.0.1/a"})
    assert not one.same_system(target("postgresql", {"url": "postgresql://u@127.0.0.1/b"}))
    assert not one.same_system(target("postgresql", {"url": "postgresql://u@127.0.0.1:6543/a"}))
    assert not one.same_system(target("mysql", {"url": "mysql://u@127.0.0.1:5432/a"}))
    api = target("http", {"base_url": "https://api.gov/fin"})
    assert not api.same_system(target("http", {"base_url": "https://api.gov/civil"}))
    assert stored_target("unknown-kind", {}) is None


def test_files_compare_by_identity(tmp_path: Path) -> None:
    real = tmp_path / "data"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real)
    db = real / "x.db"
    db.write_bytes(b"")
    os.link(db, real / "hard.db")
    base = target("sqlite", {"url": f"sqlite:///{db}"})
    for other in (
        f"sqlite:///{tmp_path / 'link' / 'x.db'}",
        f"sqlite:///{real / 'sub' / '..' / 'x.db'}",
        f"sqlite:///{real / 'hard.db'}",
    ):
        assert base.same_system(target("sqlite", {"url": other})), other
    root = target("csv", {"root": str(real)})
    assert root.same_system(target("parquet", {"root": str(tmp_path / "link")}))
    assert root.same_system(target("csv", {"root": str(real / "sub")}))  # nested: same data


@pytest.mark.parametrize(
    ("kind", "settings", "secret"),
    [
        ("postgresql", {"url": "postgresql://u@db.fin/pay"}, "postgresql://u:pw@db.civil/x"),
        ("postgresql", {}, "postgresql://u:pw@db.civil/x"),
        ("mysql", {"url": "mysql://u@db.fin/pay"}, "mysql+pymysql://u:pw@db.civil:3306/x"),
        ("sqlite", {"url": "sqlite:////srv/fin.db"}, "sqlite:////srv/civil.db"),
        ("http", {"base_url": "https://api.fin.gov"}, "https://api.civil.gov/"),
        ("csv", {"root": "/srv/fin"}, "anything"),
    ],
)
def test_a_secret_holds_credentials_only(kind: str, settings: dict, secret: str) -> None:
    with pytest.raises(BadRequest) as info:
        effective_target(SourceConfig(kind, settings, secret), None)
    assert secret not in info.value.message


def test_network_guard_applies_to_sql_kinds() -> None:
    config = SourceConfig("postgresql", {"url": "postgresql://u@localhost/pay"})
    with pytest.raises(Forbidden, match="SLUICE_SOURCE_ALLOW_HOSTS"):
        effective_target(config, AdapterLimits())
    with pytest.raises(Forbidden):  # allowing the address does not allow another name
        effective_target(config, AdapterLimits(http_allow_hosts=("127.0.0.1",)))
    allowed = effective_target(config, AdapterLimits(http_allow_hosts=("localhost",)))
    assert allowed is not None and allowed.pinned == "127.0.0.1" and allowed.port == 5432
    assert allowed.as_record()["connected_address"] == "127.0.0.1"
    with pytest.raises(BadRequest, match="host"):
        effective_target(SourceConfig("postgresql", {"url": "postgresql://u@/pay"}), None)
    with pytest.raises(BadRequest, match="database"):
        effective_target(SourceConfig("mysql", {"url": "mysql://u@127.0.0.1"}), None)


def test_source_allow_hosts_setting_merges_the_http_one() -> None:
    env = load_settings(source_allow_hosts="db.fin, ::1", http_allow_hosts="api.fin")
    assert env.effective_source_allow_hosts == ["db.fin", "::1", "api.fin"]
