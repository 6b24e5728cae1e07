"""Steward: a mask override that reveals in effect. carl (civil's steward) keeps the ID
number field at L3 and category ``id_number`` — so it still reads as masked, and the
below-suggested-level alert (which reads levels) sees nothing — but sets its mask to
``keep_first:17``: alice's query then shows 17 of 18 characters, and the 18th is the
check character computed from them. ``keep_last:17`` likewise, ``round:1`` on a number
classified as a phone, ``replace:1`` (every digit but the ones shown), a
``date_shift`` on a birth date (the day, give or take a month, where the default shows
the year), or the override set first on a ``none`` field and the category changed
after. Each was saved (200) and served. Now an override on a personal field may show at
most what the category's default shows (``catalog.mask_reveal``): the rest is a 422
naming the field, nothing stored, and the override that shows no more still works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.gateway.demo_app import DemoGateway, demo_gateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-901"}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoGateway]:
    with demo_gateway(tmp_path_factory.mktemp("mask-reveals")) as gateway:
        yield gateway


def _patch(gw: DemoGateway, fields: dict[str, dict[str, Any]]) -> Any:
    return gw.client.patch(
        f"/api/v1/datasets/{DIBAO}", json={"fields": fields}, headers=gw.headers("carl")
    )


def _fields(gw: DemoGateway) -> dict[str, dict[str, Any]]:
    resp = gw.client.get(f"/api/v1/catalog/{DIBAO}", headers=gw.headers("carl"))
    assert resp.status_code == 200, resp.text
    return {f["name"]: f for f in resp.json()["fields"]}


def _id_numbers(gw: DemoGateway) -> list[str]:
    resp = gw.query("alice", DIBAO, {"fields": ["id_number"], "limit": 20, **CASE})
    assert resp.status_code == 200, resp.text
    return [r["id_number"] for r in orjson.loads(resp.content)["rows"]]


def _refused(gw: DemoGateway, fields: dict[str, dict[str, Any]], names: set[str]) -> None:
    before = _fields(gw)
    resp = _patch(gw, fields)
    assert resp.status_code == 422, f"saved: {resp.status_code} {resp.text}"
    body = resp.json()
    assert body["code"] == "unprocessable"
    assert set(body["details"]["fields"]) == names
    assert all(name in body["message"] for name in names)
    assert "default" in body["message"]
    assert _fields(gw) == before


@pytest.mark.parametrize("spec", ["keep_first:17", "keep_last:17", "keep_first:10",
                                  "keep_last:6", "replace:1", "bucket:0,5", "phone_partial",
                                  "address_district", "date_shift"])  # fmt: skip
def test_an_override_showing_more_of_an_id_number_is_refused(gw: DemoGateway, spec: str) -> None:
    _refused(gw, {"id_number": {"mask_override": spec}}, {"id_number"})
    shown = _id_numbers(gw)
    assert shown and all(v[6:14] == "********" for v in shown if len(v) == 18)


def test_round_1_on_a_number_classified_personal_is_refused(gw: DemoGateway) -> None:
    _refused(gw, {"household_size": {"pi_category": "phone", "mask_override": "round:1"}},
             {"household_size"})  # fmt: skip


def test_the_category_changed_under_an_override_is_judged_with_it(gw: DemoGateway) -> None:
    """Two steps: the override on a ``none`` field (in clear anyway: allowed), then the
    category that makes it a masked personal field — judged as a pair."""
    resp = _patch(gw, {"region_code": {"mask_override": "keep_first:7"}})
    assert resp.status_code == 200, resp.text
    try:
        _refused(gw, {"region_code": {"pi_category": "id_number"}}, {"region_code"})
        _refused(gw, {"region_code": {"pi_category": "bank_card", "mask_override": "keep_first:1"}},
                 {"region_code"})  # fmt: skip
    finally:
        assert _patch(gw, {"region_code": {"mask_override": None}}).status_code == 200


@pytest.mark.parametrize(("field", "spec"), [
    ("id_number", "keep_first:6"), ("id_number", "keep_last:4"), ("id_number", "hash"),
    ("id_number", "redact"), ("id_number", "id_number_fpe"), ("id_number", "id_number_partial"),
    ("phone", "keep_last:4"), ("phone", "keep_first:3"), ("name", "keep_first:1"),
    ("address", "hash"), ("household_size", "round:100"),
])  # fmt: skip
def test_an_override_that_shows_no_more_is_kept(gw: DemoGateway, field: str, spec: str) -> None:
    resp = _patch(gw, {field: {"mask_override": spec}})
    try:
        assert resp.status_code == 200, resp.text
        assert _fields(gw)[field]["mask_override"] == spec
    finally:
        assert _patch(gw, {field: {"mask_override": None}}).status_code == 200


def test_keep_first_6_serves_the_region_part_only(gw: DemoGateway) -> None:
    assert _patch(gw, {"id_number": {"mask_override": "keep_first:6"}}).status_code == 200
    try:
        shown = _id_numbers(gw)
        assert shown and all(v[6:] == "*" * (len(v) - 6) for v in shown)
    finally:
        assert _patch(gw, {"id_number": {"mask_override": None}}).status_code == 200


def test_an_override_stored_behind_the_catalog_is_not_applied(gw: DemoGateway) -> None:
    """Saved before the rule (through the ORM, so sealed; written with SQL the entry is
    refused whole, tests/attacks/test_insider_entry_seals.py): ``keep_first:17`` on the
    ID number is not given to the policy; the field is masked with its category's default."""
    gw.edit_entry(DIBAO, "id_number", mask_override="keep_first:17")
    try:
        shown = _id_numbers(gw)
        assert shown and all(v[6:14] == "********" for v in shown if len(v) == 18), shown
        resp = gw.query("alice", DIBAO, {"fields": ["id_number"], "limit": 1, **CASE})
        methods = {c["name"]: c["method"] for c in orjson.loads(resp.content)["columns"]}
        assert methods["id_number"] == "id_number_partial"
    finally:
        gw.edit_entry(DIBAO, "id_number", mask_override=None)
