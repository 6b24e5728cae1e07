"""Red team 52, as civil's steward (carl) with civil's database administrator, and the
analyst (dora) a freeze is meant to stop: a MariaDB *table* that is the roll.

Rule (stop 37, 38): a freeze holds every entry of the frozen entry's system whose object
reads a table in common with it, as the source tells it (``SqlAdapter.lineage``); on
MySQL/MariaDB a view may read any table, and a table reads itself. By names, an entry
whose fields are all among the frozen entry's, one personal there, is held too.

Attack: MariaDB's ``MERGE`` engine (``MRG_MyISAM``, there by default) makes a table whose
rows are another MyISAM table's, live, under column names of its own:
``CREATE TABLE roll_m (pid …, nm …, region_code …) ENGINE=MERGE UNION=(roll)``. It is a
``BASE TABLE`` to ``information_schema``, so its lineage is itself, and its fields are no
part of the roll by name. sam freezes the roll; dora reads its rows through ``roll_m``
(200). (``FEDERATED``/``CONNECT``/``SPIDER`` tables read other tables or servers alike.)

Expected: 423 while the freeze stands: a table whose engine reads other tables may read
any table. On the embedded default and on PostgreSQL (the source is MariaDB on both).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymysql
import pytest

from tests.attacks.civil_entries import publish_civil_entry
from tests.attacks.frozen_roll import entry_frozen
from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok
from tests.attacks.test_steward_sources import allowing, shown
from tests.conftest import MYSQL_HOST, create_mysql_database, drop_mysql_database
from tests.gateway.demo_app import DemoGateway

__all__ = ["allowing"]  # a fixture, used by name
QUERY = {"purpose": "supervision", "case_ref": "JW-RT52-MERGE", "fields": ["region_code"]}


@pytest.fixture(scope="module")
def civil_mariadb() -> Iterator[str]:
    """civil's MariaDB database: the roll (MyISAM) and ``roll_m``, a MERGE table of it."""
    name, url = create_mysql_database("sluice_rt52_merge")
    try:
        _made(name)
        yield url
    finally:
        drop_mysql_database(name)


def _made(name: str) -> None:
    db = pymysql.connect(host=MYSQL_HOST, user="root", password="", database=name,
                         autocommit=True)  # fmt: skip
    try:
        with db.cursor() as cur:
            cur.execute("CREATE TABLE roll (id_number varchar(18), name varchar(40), "
                        "region_code varchar(6)) ENGINE=MyISAM")  # fmt: skip
            cur.execute("INSERT INTO roll VALUES ('430121199001011234', 'Wang Fang', "
                        "'430121'), ('430121198502023456', 'Li Wei', '430121')")  # fmt: skip
            cur.execute("CREATE TABLE roll_m (pid varchar(18), nm varchar(40), region_code "
                        "varchar(6)) ENGINE=MERGE UNION=(roll) INSERT_METHOD=NO")  # fmt: skip
    finally:
        db.close()


def test_a_freeze_of_the_roll_stops_a_merge_table_of_it(
    allowing: DemoGateway, civil_mariadb: str
) -> None:
    gw = allowing
    tag = uuid.uuid4().hex[:8]
    source = f"civil-maria-rt52-{tag}"
    _ok(gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "mysql", "display_name": source,
        "settings": {"url": shown(civil_mariadb)}}))  # fmt: skip
    roll, merged = f"civil.rt52_roll_{tag}", f"civil.rt52_merge_{tag}"
    publish_civil_entry(gw, source, "roll", roll, hashed=False)
    publish_civil_entry(gw, source, "roll_m", merged, hashed=False)
    assert gw.query("dora", merged, QUERY).status_code == 200
    with entry_frozen(gw, roll):
        read = gw.query("dora", merged, QUERY)
    assert read.status_code == 423, (
        f"the frozen roll read through a MERGE table of it ({read.status_code}): {read.text[:200]}"
    )
