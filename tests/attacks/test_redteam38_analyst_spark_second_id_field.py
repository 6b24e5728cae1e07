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

Expected: the Spark side's end flags it as the embedded one does. PostgreSQL only
(Spark reads the departments' tables by JDBC).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.attacks.redteam36 import set_own_id_number
from tests.gateway.demo_app import DemoGateway
from tests.gateway.enforcement.comparison.test_spark_engine import (  # noqa: F401 (fixture)
    BACKEND,
    _dibao_side_completed,
    _nobody,
    _run,
    gw,
)

MODEL: dict[str, Any] = {
    "id": "rt38.dibao_guardians",
    "name": {"zh": "监护人", "en": "Guardians"},
    "sides": [{"alias": "p", "dataset": "finance.payroll"},
              {"alias": "d", "dataset": "civil.dibao_recipients"}],
    "joins": [{"left": "p", "left_key": "id_number", "right": "d", "right_key": "id_number"}],
    "output": ["p.name", "d.address"],
}  # fmt: skip


@pytest.mark.xfail(
    strict=True,
    reason="red team 38, left: a Spark side carries one subject column (its tokens, the "
    "own check of side_stats); the entry's other ID-number fields it reads need their "
    "own token columns through the governor, the side's statistics and the match: not "
    "a small change",
)
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
