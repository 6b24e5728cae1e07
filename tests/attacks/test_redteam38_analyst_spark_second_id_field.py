"""Red team 38, as an analyst (dora), against the own-records flag on a Spark side.

Rule (red team 20, 36; the thirty-eighth pass c): a read names on the trail the people
its rows hold — the tokens of every ID-number field it reads — and flags the reader's
own record (``self_hash_hit``, the own-records alert), whatever engine reads it. The
embedded reader hashes every ID-number field of a raw batch (``SubjectTokens.collect``,
``holds_own``).

Attack: a Spark side records and checks only the one subject column its plan names
(``plan._subject_column``: its key when an ID number), in the executors' token column
(``govern.side_stats``, stop 33's own check included). Civil's steward classifies a
second field of the roll as an ID number (a guardian's, a household head's: here
``address`` holding one); dora's own number is in that field of one row. Dora's model
shows that field; run embedded, the dibao side flags her own record; run on Spark,
the side's end says ``self_hash_hit: false`` and names no one of that field.

Expected: the Spark side's end flags it as the embedded one does, and names that
field's people with the embedded engine's tokens (a side narrowed below the cap of
``MAX_TOKENS``, so every token is on the list). PostgreSQL only (Spark reads the
departments' tables by JDBC).

Fixed at stop 34 (THREAT_MODEL.md, forty-first pass): a Spark side hashes every
ID-number field it reads into a token column of its own (``govern.token_columns``),
which ``side_stats`` lists and checks, dropped before the join.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from gateway.enforcement.query.subjects import MAX_TOKENS
from tests.attacks.redteam36 import set_own_id_number
from tests.gateway.demo_app import DemoGateway
from tests.gateway.enforcement.comparison.test_spark_engine import (  # noqa: F401 (fixture)
    BACKEND,
    _dibao_side_completed,
    _nobody,
    _run,
    gw,
)

pytestmark = pytest.mark.xdist_group("spark")  # the Spark worker's JVM (tests/spark_jvm.py)

MODEL: dict[str, Any] = {
    "id": "rt38.dibao_guardians",
    "name": {"zh": "监护人", "en": "Guardians"},
    "sides": [{"alias": "p", "dataset": "finance.payroll"},
              {"alias": "d", "dataset": "civil.dibao_recipients"}],
    "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
    "output": ["p.name", "d.address"],
}  # fmt: skip


def test_a_spark_side_flags_the_runners_own_number_in_a_second_id_field(
    gw: DemoGateway,  # noqa: F811 (the imported fixture)
) -> None:
    with psycopg.connect(BACKEND["url"]) as conn:
        numbers = {r[0] for r in conn.execute("SELECT id_number FROM dibao_recipients")}
        own = _nobody(min(numbers), numbers)
        conn.execute("UPDATE dibao_recipients SET address = %s WHERE id_number = %s",
                     (own, max(numbers)))  # fmt: skip
    patched = gw.client.patch(
        "/api/v1/datasets/civil.dibao_recipients",
        headers=gw.headers("carl"),
        json={"fields": {"address": {"pi_category": "id_number", "level": "L3"}}},
    )
    assert patched.status_code == 200, patched.text[:300]
    made = gw.client.post("/api/v1/comparison-models", json=MODEL, headers=gw.headers("dora"))
    assert made.status_code == 201, made.text[:300]
    set_own_id_number(gw, "dora", own)
    embedded = _run(gw, "dora", MODEL["id"], engine="embedded")
    assert embedded["status"] == "done", embedded
    assert _dibao_side_completed(gw, embedded)["details"]["self_hash_hit"] is True
    spark = _run(gw, "dora", MODEL["id"], engine="spark")
    assert spark["status"] == "done", spark
    details = _dibao_side_completed(gw, spark)["details"]
    assert details["self_hash_hit"] is True, (
        "dora's own record read on Spark unflagged (a second ID-number field)"
    )
    _the_side_names_the_second_fields_people(gw, own)


def _the_side_names_the_second_fields_people(g: DemoGateway, own: str) -> None:
    """The same model with its roll narrowed to the rows like the one holding ``own``
    (its county, status and household size): few enough that every token is listed.
    The dibao side's end names that field's people — ``own`` among them — with the
    embedded engine's tokens, on Spark as embedded."""
    with psycopg.connect(BACKEND["url"]) as conn:
        row = conn.execute("SELECT region_code, status, household_size FROM dibao_recipients"
                           " WHERE address = %s", (own,)).fetchone()  # fmt: skip
    assert row is not None
    where = [{"field": "region_code", "op": "=", "value": row[0]},
             {"field": "status", "op": "=", "value": row[1]},
             {"field": "household_size", "op": "=", "value": row[2]}]  # fmt: skip
    model = {**MODEL, "id": "rt38.dibao_guardians_few",
             "sides": [MODEL["sides"][0], {**MODEL["sides"][1], "where": where}]}  # fmt: skip
    made = g.client.post("/api/v1/comparison-models", json=model, headers=g.headers("dora"))
    assert made.status_code == 201, made.text[:300]
    subjects = g.client.app.state.broker.subjects  # type: ignore[attr-defined]
    ends: dict[str, dict[str, Any]] = {}
    for engine in ("embedded", "spark"):
        run = _run(g, "dora", model["id"], engine=engine)
        assert run["status"] == "done", run
        ends[engine] = _dibao_side_completed(g, run)["details"]
    tokens = ends["spark"]["subject_tokens"]
    assert 0 < len(tokens) < MAX_TOKENS, len(tokens)
    assert subjects.token(own) in tokens, "the second field's people not named on Spark"
    assert ends["spark"]["self_hash_hit"] is True
    assert sorted(tokens) == sorted(ends["embedded"]["subject_tokens"])
