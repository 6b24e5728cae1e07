"""Red team 35, as an analyst (alice), against red team 34's source-error fix.

Rule: an analyst receives a field only as policy releases it, and the trail never holds
a raw ID number — a source's failure included (red team 34: the SQL adapter's message
loses every quoted literal, ``adapters.read_errors.without_literals``).

Attack: the literal-stripping reads the driver's message as pairs of quotes. A
partner's PostgreSQL message is not built that way:

- a dirty value holding a quote itself (``3"`` typed for 3 inches of a form, an address
  with ``"8"栋``) is printed unescaped, ``"3" 430121… 李四"``: the pair closes inside the
  value and the rest goes out in clear;
- a value longer than the message's 300-character cut loses its closing quote before the
  literals are looked for, so none is found;
- psycopg's message carries the server's DETAIL and CONTEXT lines, and a view parsing a
  JSON column (``payload::jsonb ->> 'size'``) that one row holds broken prints that row's
  JSON unquoted (``CONTEXT: JSON data, line 1: {"id": 430121…``).

alice asks the view for household sizes per county; the answer's 502 and
``query.failed`` held the ID number and the name. Expected: neither, on the embedded
default and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.attacks.test_redteam34_analyst_source_error_row import (  # noqa: F401 (fixture)
    SECRET_ID,
    _entry,
    _leaks,
    world,
)
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

LONG = "湖南省长沙市长沙县星沙街道" * 40

DIRTY = {
    "quote": ("CAST(household AS integer)", f'3" {SECRET_ID} 李四'),
    "long": ("CAST(household AS integer)", f"{SECRET_ID} 李四 {LONG}"),
    "json": ("CAST(household::jsonb ->> 'size' AS integer)",
             f'{{"id": {SECRET_ID}, "name": 李四}}'),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(DIRTY))
def test_a_driver_message_naming_a_value_is_not_sent_in_clear(
    world: tuple[DemoGateway, Path],  # noqa: F811 (the imported fixture)
    kind: str,
) -> None:
    gw, _data = world
    expression, dirty = DIRTY[kind]
    name, url = create_pg_database(f"sluice_red35_{kind}")
    plain = url.replace("postgresql+psycopg", "postgresql")
    try:
        with psycopg.connect(plain) as conn:
            conn.execute("CREATE TABLE people (id_number text, region_code text, household text)")
            clean = '{"size": 2}' if kind == "json" else "2"
            conn.execute("INSERT INTO people VALUES ('430121199001010011', '430121', %s)",
                         (clean,))  # fmt: skip
            conn.execute(f"CREATE VIEW people_v AS SELECT id_number, region_code, "
                         f"{expression} AS household_size FROM people")  # fmt: skip
        source, dataset = f"civil-red35-{kind}", f"civil.red35_{kind}"
        _entry(gw, {"id": source, "kind": "postgresql", "settings": {"url": url}},
               "people_v", dataset,
               {"id_number": ("L3", "id_number"), "region_code": ("L1", "none"),
                "household_size": ("L2", "none")})  # fmt: skip
        with psycopg.connect(plain) as conn:  # the next day's dirty row
            conn.execute("INSERT INTO people VALUES (%s, '430121', %s)", (SECRET_ID, dirty))
        _leaks(gw, dataset)
    finally:
        drop_pg_database(name)
