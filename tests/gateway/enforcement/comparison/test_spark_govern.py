"""A Spark side's executor half (``spark.govern.Govern``) on its own, pure Arrow, no
Spark: every ID-number field it reads gets a subject-token column holding the tokens
the gateway's reader (``SubjectTokens.collect``) makes of it; only the subject column's
is kept for the match, the others leave with the county before the join (red team
38's Spark row). An entry whose field takes one of those names is read by no side."""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
import pytest

from catalog.entries import FieldEntry
from catalog.errors import Unprocessable
from gateway.enforcement.comparison.spark.govern import COUNTY, governor
from gateway.enforcement.masking.apply import mask_batch
from gateway.enforcement.masking.tokens import hmac_tokens
from gateway.enforcement.query.context import Origin, QueryContext
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.plan import ExecutionPlan, SideOverrides, plan_query
from gateway.enforcement.query.schemas import QueryBody
from gateway.enforcement.query.subjects import SUBJECT_COLUMN
from policies.decision import Decision, FieldAccess, UserContext

AUDIT_KEY = b"a" * 32
CASE = {"purpose": "supervision", "case_ref": "JW-SPARK-GOVERN"}


def _entry(*names: tuple[str, str]) -> Entry:
    fields = tuple(FieldEntry(name=n, type="string", level="L2", pi_category=pi,
                              mask_override=None) for n, pi in names)  # fmt: skip
    return Entry(id="civil.roll", department="civil", source_id="s", object_name="roll",
                 level="L2", allowed_purposes=["supervision"], region_field=None,
                 status=cast(Any, "published"), schema_version=1, fields=fields,
                 source=cast(Any, None))  # fmt: skip


ROLL = _entry(("id_number", "id_number"), ("name", "name"), ("guardian", "id_number"),
              ("note", "none"))  # fmt: skip


def _side_plan(entry: Entry, fields: list[str]) -> ExecutionPlan:
    user = UserContext(subject="dora", department=None, roles=("analyst",), clearance="L3")
    ctx = QueryContext(user=user, entry=entry, body=QueryBody(fields=fields, **CASE),
                       origin=Origin(request_id="r1"))  # fmt: skip
    decision = Decision(allow=True, reasons=(), row_filter=None, max_rows=1000,
                        requires_approval=False, policy_version="p",
                        fields={f.name: FieldAccess("allow") for f in entry.fields})  # fmt: skip
    return plan_query(ctx, decision, rows_left=100, case_key=lambda _: b"k" * 32,
                      side=SideOverrides(label="right", key="id_number", max_rows=10))  # fmt: skip


def test_every_id_number_field_read_gets_the_readers_tokens() -> None:
    plan = _side_plan(ROLL, ["id_number", "name", "guardian"])
    govern = governor(plan, audit_key=AUDIT_KEY, entry=ROLL)
    extra = f"{SUBJECT_COLUMN}_1"
    assert govern.tokens == (("id_number", SUBJECT_COLUMN), ("guardian", extra))
    assert govern.record_only == (extra, COUNTY)
    ids = ["430121199001011234", "430121198502020011"]
    guardians = [None, "43012119600303001x"]
    raw = pa.record_batch({"id_number": ids, "name": ["a", "b"], "guardian": guardians})
    out = govern.batch(raw)
    reader = hmac_tokens(AUDIT_KEY)  # the tokens ``SubjectTokens.collect`` records
    assert out.column(SUBJECT_COLUMN).to_pylist() == reader.tokens(ids)
    assert out.column(extra).to_pylist() == reader.tokens(guardians)
    assert out.schema == govern.schema()
    joined = [n for n in out.schema.names if n not in govern.record_only]
    assert joined == ["id_number", "name", "guardian", SUBJECT_COLUMN]
    assert not {*ids, guardians[1]} & set(out.column("id_number").to_pylist())  # key: token


def test_an_id_number_field_not_read_is_not_hashed() -> None:
    """The side reads what it shows and its subject column: a second ID-number field it
    does not show is not read, on Spark as by the gateway's reader."""
    plan = _side_plan(ROLL, ["id_number", "note"])
    assert [c.name for c in plan.source.columns] == ["id_number", "note"]
    govern = governor(plan, audit_key=AUDIT_KEY, entry=ROLL)
    assert govern.tokens == (("id_number", SUBJECT_COLUMN),)
    assert govern.record_only == (COUNTY,)


@pytest.mark.parametrize("name", [SUBJECT_COLUMN, f"{SUBJECT_COLUMN}_1"])
def test_a_field_named_like_a_token_column_is_read_by_no_side(name: str) -> None:
    entry = _entry(("id_number", "id_number"), ("guardian", "id_number"), (name, "none"))
    with pytest.raises(Unprocessable, match=name):
        _side_plan(entry, ["id_number", "guardian", name])


def test_an_id_number_spelt_apart_gives_the_canonical_key() -> None:
    """Stop 37: a Spark side's key tokens of an ID number spelt with spaces or a
    lower-case check digit are those of its canonical spelling — the keys the gateway's
    own reader makes of it (``mask_batch`` with the plan's ``id_numbers``), so that a
    side read by Spark matches a side that stores the number canonically."""
    plan = _side_plan(ROLL, ["id_number", "name", "note"])
    assert plan.id_numbers == {"id_number"}
    govern = governor(plan, audit_key=AUDIT_KEY, entry=ROLL)
    canonical = ["43012119900101123X", "430121198502020011"]
    spelt = ["430121 19900101 123x", "\u3000430121198502020011\t"]

    def batch(ids: list[str], note: list[str]) -> pa.RecordBatch:
        return pa.record_batch({"id_number": ids, "name": ["a", "b"], "note": note})

    out = govern.batch(batch(spelt, spelt))
    want = govern.batch(batch(canonical, canonical))
    assert out.column("id_number").equals(want.column("id_number"))
    assert out.column(SUBJECT_COLUMN).equals(want.column(SUBJECT_COLUMN))
    reader = mask_batch(batch(canonical, canonical), plan.masks, hash_key=plan.hash_key,
                        hash_keys=plan.key_hashes, id_numbers=plan.id_numbers)  # fmt: skip
    assert out.column("id_number").equals(reader.column("id_number"))
    assert out.column("note").to_pylist() == spelt  # another field, released as stored
