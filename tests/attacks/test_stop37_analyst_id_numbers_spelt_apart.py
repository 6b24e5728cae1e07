"""Stop 37, as an analyst: one person whose ID number two departments spell apart.

Rule (docs/policies.md, Masks; docs/comparisons.md): a comparison matches its sides on
their keys' tokens under the case, and the ``hash`` mask shows a value as the same token
in every entry under one case, so that two departments' records of one person join —
in a comparison, or by the analyst reading both entries' tokens.

Finding (the product owners' matching bug): both tokenised an ID number as stored.
Civil's clerk typed a recipient's number grouped with spaces and a lower-case check
digit (``110101 19900101 123x``); finance stores it canonically. dora's comparison of
the payroll with the roll on ``id_number`` missed that person, and her queries of the
two entries under one case showed the person as two different ``hash`` tokens. The
subject tokens were already taken of the canonical spelling (red team 47's note).

Expected: a field classed as a resident ID number is spelt canonically (no white space,
upper case: ``masking.id_spelling``) before its ``hash`` token or comparison key is
made, on every path (the small answer's per-value masks, the Arrow path's per-value
and vectorised/native ones, a comparison's sides); a canonical value's token is the one
it always had. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway.enforcement.masking import derive_case_key, hash_token, load_mask_secret
from tests.attacks.respelt import grouped, respelt
from tests.attacks.test_redteam37_analyst_date_shift_codebook import _ok
from tests.attacks.test_stop34_analyst_grant_token_codebook import hash_both
from tests.gateway.demo_app import DemoGateway

PAYROLL = "finance.payroll"
DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-S37-SPELT"}


@dataclass(frozen=True)
class Person:
    """One person on both the payroll and the roll: the number (canonical) and the
    clear fields that find each row (so a query of a few rows holds it)."""

    number: str
    payroll: dict[str, Any]
    roll: dict[str, Any]


def _find(gw: DemoGateway) -> Person:
    data = gw.settings.demo_data_dir
    db = sqlite3.connect(data / "finance.db")
    try:
        db.execute("ATTACH DATABASE ? AS civil", (str(data / "civil.db"),))
        # a number with the check letter if one is on both (its case can differ then)
        number, employer, salary, county, size, amount, home = db.execute(
            "SELECT p.id_number, p.employer, p.monthly_salary, p.region_code, "
            "d.household_size, d.monthly_amount, d.region_code "
            "FROM payroll p JOIN civil.dibao_recipients d ON d.id_number = p.id_number "
            "ORDER BY substr(p.id_number, 18) = 'X' DESC, p.rowid LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    payroll = {"employer": employer, "monthly_salary": salary, "region_code": county}
    roll = {"household_size": size, "monthly_amount": amount, "region_code": home}
    return Person(str(number), payroll, roll)


@pytest.fixture
def spelt_apart(deployment: DemoGateway) -> Iterator[Person]:
    """The person's number on civil's roll grouped with spaces, its check letter (if it
    has one) in lower case; finance's payroll keeps it canonical. Restored after."""
    gw = deployment
    person = _find(gw)
    with respelt(gw.settings.demo_data_dir / "civil.db", "dibao_recipients", person.number,
                 grouped(person.number)):  # fmt: skip
        yield person


def _token(gw: DemoGateway, number: str) -> str:
    """The person's token under the case: that of the number spelt canonically, as
    every token of it handed out so far."""
    return hash_token(number, derive_case_key(load_mask_secret(gw.settings.home),
                                              CASE["case_ref"]))  # fmt: skip


def _ids(gw: DemoGateway, dataset: str, where: dict[str, Any], limit: int) -> set[str]:
    """dora's ``id_number`` tokens of the rows of ``dataset`` that ``where`` picks."""
    body = {"fields": ["id_number"], "limit": limit, **CASE,
            "where": [{"field": f, "op": "=", "value": v} for f, v in where.items()]}  # fmt: skip
    rows = _ok(gw.query("dora", dataset, body))["rows"]
    assert rows, (dataset, where)
    return {str(r["id_number"]) for r in rows}


def test_a_comparison_finds_the_person_spelt_apart(
    deployment: DemoGateway, spelt_apart: Person
) -> None:
    gw, person = deployment, spelt_apart
    body = {
        "left": {"dataset": PAYROLL, "key": "id_number", "fields": ["employer"],
                 "where": [{"field": "region_code", "op": "=",
                            "value": person.payroll["region_code"]}]},
        "right": {"dataset": DIBAO, "key": "id_number", "fields": ["monthly_amount"]},
        "limit": 10_000, **CASE,
    }  # fmt: skip
    out = _ok(gw.compare("dora", body))
    found = {r["key_token"] for r in out["rows"]}
    assert _token(gw, person.number) in found, "the person spelt apart was not matched"


def test_both_entries_show_the_person_as_one_token(
    deployment: DemoGateway, spelt_apart: Person
) -> None:
    """Under one case, each entry's ``hash`` token of the person is the canonical
    number's: a few rows (the small answer's path), the whole roll (the vectorised,
    native path), and a token filter (the Arrow path, masked then filtered)."""
    gw, person = deployment, spelt_apart
    hash_both(gw)
    want = _token(gw, person.number)
    assert want in _ids(gw, PAYROLL, person.payroll, 20)
    assert want in _ids(gw, DIBAO, person.roll, 20), "the roll's few rows"
    assert want in _ids(gw, DIBAO, {}, 10_000), "the whole roll"
    assert _ids(gw, DIBAO, {"id_number": want}, 20) == {want}, "the roll by its token"
    assert _ids(gw, PAYROLL, {"id_number": want}, 20) == {want}
