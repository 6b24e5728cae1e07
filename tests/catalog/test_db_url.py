"""``catalog.db_url.sqlite_file`` reads a plain SQLite URL's file without SQLAlchemy;
it must name the file ``make_url`` names, or decline and leave the URL to it."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from catalog.db_url import sqlite_file

PLAIN = ["sqlite:///a.db", "sqlite:////abs/x y.db", "sqlite:///a@b:c/d.db",
         "sqlite+pysqlite:///rel/../x.db", "sqlite:///~/x", "sqlite:///C:/data/s.db",
         "sqlite:////tmp/sluice home/sluice.db", "sqlite:///数据/s.db"]  # fmt: skip
DECLINED = ["sqlite:///:memory:", "sqlite://", "sqlite:///", "sqlite:///a%20b",
            "sqlite:///a?mode=ro", "sqlite:///a#b", "sqlite:///a\nb",
            "sqlite+aiosqlite:///a.db", "SQLITE:///a.db", "postgresql+psycopg://u:p@h/db",
            "postgresql://h/sqlite:///a", " sqlite:///a.db"]  # fmt: skip


@pytest.mark.parametrize("url", PLAIN)
def test_a_plain_url_names_the_file_sqlalchemy_names(url: str) -> None:
    assert sqlite_file(url) == make_url(url).database


@pytest.mark.parametrize("url", DECLINED)
def test_anything_else_is_left_to_sqlalchemy(url: str) -> None:
    assert sqlite_file(url) is None
