"""Through the HTTP API, on the embedded and the PostgreSQL deployment: a small JSON
answer made from the rows' tuples (``small_answer``, issue 17) sends the bytes the Arrow
path sends, and its end on record says the same — rows, bytes, digest, subject tokens,
counties, cut — with denied fields dropped, masks applied and the row filter kept; other
formats never take it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from audit.search import EventFilter, list_events
from gateway.enforcement.query import small_answer
from gateway.enforcement.query.execute import Reader
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "BENCH-1"}
BODIES = [
    {"fields": ["id_number", "name", "phone", "region_code", "monthly_amount"], "limit": 20},
    {"fields": ["name", "address", "start_date", "household_size"], "limit": 7},
    {"fields": ["region_code"], "limit": 3, "offset": 2},
    {"fields": ["name", "phone"], "limit": 5,
     "where": [{"field": "region_code", "op": "=", "value": "none-such"}]},
]  # fmt: skip
# what the end record says that must not depend on the path (ids and times do; the
# digest is of the bytes sent, which hold the decision id: checked against the bytes)
SAME = ("type", "outcome", "rows", "fields", "masks", "row_filter")


def _end(gw: DemoGateway, request_id: str) -> dict[str, Any]:
    for _ in range(100):
        page = list_events(store=gw.services.audit.store,  # type: ignore[attr-defined]
                           filters=EventFilter(type="query.*"), limit=50)  # fmt: skip
        ends = [e for e in page["items"]
                if e["request_id"] == request_id and e["type"] != "query.started"]  # fmt: skip
        if ends:
            return dict(ends[0])
        time.sleep(0.05)  # queued behind the response
    raise AssertionError(f"no end on record for {request_id}")


def _answers(gw: DemoGateway, user: str, fmt: str = "json") -> list[tuple[bytes, dict[str, Any]]]:
    out = []
    for body in BODIES:
        response = gw.query(user, DIBAO, {**body, **CASE}, format=fmt)
        assert response.status_code == 200, response.text
        end = _end(gw, response.headers["X-Request-Id"])
        sent = response.content
        assert end["result_sha256"] == (hashlib.sha256(sent).hexdigest() if sent else None)
        out.append((response.content, end))
    return out


def _comparable(content: bytes, end: dict[str, Any], fmt: str) -> tuple[Any, ...]:
    details = {k: v for k, v in end["details"].items() if k != "duration_ms"}
    return (content if fmt != "json" else _without_ids(content), details,
            {k: end.get(k) for k in SAME})  # fmt: skip


def _without_ids(content: bytes) -> Any:
    document = orjson.loads(content)
    document.pop("decision_id")
    return document


@pytest.mark.parametrize("kind", KINDS)
def test_the_fast_answer_sends_and_records_what_the_arrow_path_does(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[bool] = []
    answer = Reader.answer

    def counted(self: Reader, *args: Any) -> Any:
        found = answer(self, *args)
        answered.append(found is not None)
        return found

    monkeypatch.setattr(Reader, "answer", counted)
    with open_deployment(kind, tmp_path / "h", db_prefix="sluice_perf24") as gw:
        for user in ("alice", "dora"):
            for fmt in ("json", "ndjson"):
                monkeypatch.setattr(small_answer, "eligible", lambda plan: False)
                before = len(answered)
                arrow = _answers(gw, user, fmt)
                assert len(answered) == before  # the reference: never read as tuples
                monkeypatch.undo()
                monkeypatch.setattr(Reader, "answer", counted)
                fast = _answers(gw, user, fmt)
                if fmt == "json":  # answered from the tuples, but for SQLite's dates (text)
                    assert [answered[before + i] for i in (0, 2, 3)] == [True] * 3
                else:
                    assert len(answered) == before
                for (a_content, a_end), (f_content, f_end) in zip(arrow, fast, strict=True):
                    assert _comparable(f_content, f_end, fmt) == _comparable(a_content, a_end, fmt)
                    assert len(f_content) == len(a_content)
        rows = orjson.loads(gw.query("alice", DIBAO, {**BODIES[0], **CASE}).content)["rows"]
        assert rows and all("*" in r["id_number"] and "*" in r["phone"] for r in rows)
