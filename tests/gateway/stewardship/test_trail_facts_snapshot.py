"""``ApprovalFacts`` and ``PasswordSetters`` as the snapshot carries them (``dump`` /
``loaded``): the same facts back after a trip through JSON, and a body of another shape
refused, not half-loaded (the follower then walks the trail from seq 1)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.stewardship.grants.trail_facts import ApprovalFacts, Read
from gateway.stewardship.users.chosen_passwords import PasswordSetters


def _facts() -> ApprovalFacts:
    facts = ApprovalFacts()
    facts.reads["dora"] = {"civil.dibao": Read("civil", {"id_number", "name"}),
                           "finance.payroll": Read(None, set())}  # fmt: skip
    facts.compared["arthur"] = {(("civil.dibao", "id_number"), ("finance.payroll", "id"))}
    return facts


def test_the_facts_come_back_whole() -> None:
    facts = _facts()
    again = ApprovalFacts.loaded(orjson.loads(orjson.dumps(facts.dump())))
    assert again.dump() == facts.dump()
    assert again.reads_of("dora") == facts.reads_of("dora")
    assert again.compared_by("arthur") == facts.compared_by("arthur")


@pytest.mark.parametrize(
    "body",
    [{}, {"reads": "dora", "compared": {}}, {"reads": {"dora": {"e": 3}}, "compared": {}},
     {"reads": {}, "compared": {"arthur": [["civil.dibao"]]}}],
)  # fmt: skip
def test_another_shape_is_refused(body: Any) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        ApprovalFacts.loaded(body)


def test_the_password_setters_come_back_whole() -> None:
    setters = PasswordSetters()
    setters.first = {("root", "ana"): 12, ("carl", "bob"): 3}
    again = PasswordSetters.loaded(orjson.loads(orjson.dumps(setters.dump())))
    assert again.first == setters.first
    with pytest.raises((TypeError, ValueError)):
        PasswordSetters.loaded([["root", "ana"]])
