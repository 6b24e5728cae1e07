"""Red team 43, as an analyst: a grant of one table counts as a grant of another table
of the same name in another schema, and a comparison matches that table's masked key
with one she holds in clear.

Rules: a key some grant of the caller's releases in clear counts as clear, and matching
it with a key masked to them is refused (403, red team 38, ``check_keys_alike``); a
grant counts for every entry reading the *same object* (red team 41,
``objects.reading_the_same``), and what the caller *surely* holds (red team 42,
``granted_fields_anywhere(surely=True)``) waves a key or a field through the checks.

Attack: civil registers one PostgreSQL database twice: once in its default schema (the
``people`` table, public), once naming the ``archive`` schema (``archive.people``: other
people, another table). Both tables mask ``id_number`` with ``hash``, as finance's
payroll does. Finance grants dora the payroll's numbers; civil grants her the *public*
table's. dora compares the payroll with the *archive* table on the ID numbers: nobody
released the archive's numbers to her, but a freeze's comparison of objects takes a
table named without a schema for one of the same name in any schema (fail closed for a
freeze), so the archive table counted as a copy of the granted one — surely granted —
and both keys as clear: each hit names an archive row's masked number.

Expected: refused (403), as without civil's grant of the public table. On the embedded
default and PostgreSQL (the source is a PostgreSQL database on both).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import create_engine, text

from tests.attacks.civil_entries import publish_civil_entry
from tests.attacks.test_redteam37_analyst_date_shift_codebook import DIBAO, _ok, _shift
from tests.attacks.test_redteam38_analyst_grant_across_cases import _rows
from tests.attacks.test_redteam42_insider_unverified_grant_known_everywhere import ask_for_ids
from tests.attacks.test_steward_sources import allowing
from tests.attacks.test_stop34_analyst_grant_token_codebook import PAYROLL, hash_ids
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import DemoGateway

PUBLIC, ARCHIVE = "civil.people_rt43_public", "civil.people_rt43_archive"
PICK = ["employer", "position", "region_code", "monthly_salary"]
__all__ = ["allowing"]  # a fixture, used by name
COLUMNS = "id integer PRIMARY KEY, region_code text, id_number text, note text, start_date date"


@pytest.fixture
def schemas() -> Iterator[str]:
    """A PostgreSQL database with ``people`` in ``public`` and in ``archive``."""
    name, url = create_pg_database("sluice_rt43_schemas")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE people ({COLUMNS})"))
        conn.execute(
            text("INSERT INTO people VALUES (1, '430121', '430121199001011234', 'p', '2021-03-04')")
        )
        conn.execute(text("CREATE SCHEMA archive"))
        conn.execute(text(f"CREATE TABLE archive.people ({COLUMNS})"))
    engine.dispose()
    try:
        yield url
    finally:
        drop_pg_database(name)


def _entry(gw: DemoGateway, source: str, settings: dict[str, Any], entry: str) -> None:
    _ok(gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "postgresql",
        "display_name": source, "settings": settings}))  # fmt: skip
    publish_civil_entry(gw, source, "people", entry, hashed=True)


def _approved(gw: DemoGateway, dataset: str, steward: str, purpose: str, case: str) -> None:
    asked = ask_for_ids(gw, dataset, case, purpose)
    _ok(gw.client.post(f"/api/v1/access-requests/{asked}/approve",
                       headers=gw.headers(steward), json={}))  # fmt: skip


def test_a_grant_of_one_schemas_table_is_no_grant_of_anothers(
    allowing: DemoGateway, schemas: str
) -> None:
    gw, civil_pg = allowing, schemas
    hash_ids(gw, "fiona", PAYROLL)
    _approved(gw, PAYROLL, "fiona", "audit", "JW-RT43-A-PAY")
    payroll = _rows(gw, "dora", PAYROLL, [*PICK, "id_number"], "JW-RT43-A-PAY", "audit")[:3]
    engine = create_engine(civil_pg)
    with engine.begin() as conn:  # three of the payroll's people in the archive
        for i, row in enumerate(payroll):
            conn.execute(text("INSERT INTO archive.people VALUES (:i, :r, :n, 'archived', NULL)"),
                         {"i": i + 1, "r": row["region_code"], "n": row["id_number"]})  # fmt: skip
    engine.dispose()
    _entry(gw, "civil-pg-rt43-public", {"url": civil_pg}, PUBLIC)
    _entry(gw, "civil-pg-rt43-archive", {"url": civil_pg, "schema": "archive"}, ARCHIVE)
    _approved(gw, PUBLIC, "carl", "supervision", "JW-RT43-A-PUBLIC")
    resp = gw.compare("dora", {
        "left": {"dataset": PAYROLL, "key": "id_number", "fields": PICK},
        "right": {"dataset": ARCHIVE, "key": "id_number", "fields": ["note"]},
        "purpose": "audit", "case_ref": "JW-RT43-A", "limit": 10_000})  # fmt: skip
    if resp.status_code == 403:
        return
    hits = _ok(resp)["rows"]
    assert not hits, (
        f"{len(hits)} of the archive's masked ID numbers named through a comparison with "
        "the payroll's granted ones: a grant of the public schema's table counted for it"
    )


def test_a_comparison_with_another_schemas_table_is_not_unmasked_by_a_grant(
    allowing: DemoGateway, schemas: str
) -> None:
    """The other order (red team 38's ``compared_keys``): arthur matches the public
    table's shifted start dates with the archive's (masked alike: allowed), then asks
    for the public table's start dates in clear. A side keyed on a field the request
    releases is refused unless the other side's key is released too — and the archive
    table passes for a copy of the public one, "released" with it, there. A guard, not
    a finding: the sides' own ``query.started`` name the key as read with the case's
    tokens (a comparison hashes its keys), and ``read_tokens`` refuses (409)."""
    gw = allowing
    region = _rows(gw, "arthur", DIBAO, ["region_code"], "JW-RT43-B-R", "supervision")[0]
    engine = create_engine(schemas)
    with engine.begin() as conn:
        conn.execute(text("UPDATE people SET region_code = :r"), {"r": region["region_code"]})
        conn.execute(text("INSERT INTO archive.people VALUES "
                          "(1, :r, '430121199202021111', 'archived', '2021-03-04')"),
                     {"r": region["region_code"]})  # fmt: skip
    engine.dispose()
    public, archive = f"{PUBLIC}_b", f"{ARCHIVE}_b"
    _entry(gw, "civil-pg-rt43-public-b", {"url": schemas}, public)
    _entry(gw, "civil-pg-rt43-archive-b", {"url": schemas, "schema": "archive"}, archive)
    for entry in (public, archive):
        _shift(gw, "carl", entry, "start_date")
    compared = _ok(gw.compare("arthur", {
        "left": {"dataset": public, "key": "start_date", "fields": ["note"]},
        "right": {"dataset": archive, "key": "start_date", "fields": ["note"]},
        "purpose": "supervision", "case_ref": "JW-RT43-B", "limit": 100}))  # fmt: skip
    assert compared["rows"], "the comparison of keys masked alike matches"
    asked = _ok(gw.client.post("/api/v1/access-requests", headers=gw.headers("arthur"), json={
        "dataset": public, "fields": ["start_date"], "purpose": "supervision",
        "case_ref": "JW-RT43-B-GRANT", "justification": "start dates", "days": 7}))  # fmt: skip
    approved = gw.client.post(f"/api/v1/access-requests/{asked['id']}/approve",
                              headers=gw.headers("carl"), json={})  # fmt: skip
    assert approved.status_code == 409, (
        "approved: the archive table's shifted start dates matched in an earlier "
        f"comparison are spelt by the public table's in clear ({approved.status_code})"
    )


def payroll_sets(gw: DemoGateway, case: str) -> dict[str, list[dict[str, Any]]]:
    """dora's payroll ID numbers granted under ``case``; a public record set and an
    archive one holding three of the payroll's people (their clear numbers)."""
    hash_ids(gw, "fiona", PAYROLL)
    _approved(gw, PAYROLL, "fiona", "audit", case)
    payroll = _rows(gw, "dora", PAYROLL, [*PICK, "id_number"], case, "audit")[:3]
    row = {"id": 1, "region_code": payroll[0]["region_code"], "note": "p"}
    return {"public": [{**row, "id_number": "430121199001011234"}],
            "archive": [{**row, "id": i + 1, "region_code": p["region_code"],
                         "id_number": p["id_number"], "note": "archived"}
                        for i, p in enumerate(payroll)]}  # fmt: skip


def public_granted_archive_compared(
    gw: DemoGateway, source: str, public: str, archive: str, case: str
) -> Any:
    """carl's entries over ``source``'s ``people_public`` and ``people_archive``, dora
    granted the public one's ID numbers, and her comparison of the payroll with the
    archive one on them (the response)."""
    for name, entry in (("people_public", public), ("people_archive", archive)):
        publish_civil_entry(gw, source, name, entry, hashed=True)
    _approved(gw, public, "carl", "supervision", f"{case}-PUBLIC")
    return gw.compare("dora", {
        "left": {"dataset": PAYROLL, "key": "id_number", "fields": PICK},
        "right": {"dataset": archive, "key": "id_number", "fields": ["note"]},
        "purpose": "audit", "case_ref": case, "limit": 10_000})  # fmt: skip


class _Sets(BaseHTTPRequestHandler):
    """``/civil/people?set=<name>``: one endpoint path, a record set per parameter."""

    sets: ClassVar[dict[str, list[dict[str, Any]]]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        rows = [r for r in self.sets.get(query.get("set", ""), [])
                if query.get("region_code") in (None, r["region_code"])]  # fmt: skip
        page = int(query.get("page", 1)) - 1
        body = json.dumps({"data": {"items": rows if page == 0 else []}}).encode()
        self.send_response(200)
        for name, value in (("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))):  # fmt: skip
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def test_a_grant_of_one_query_of_an_endpoint_is_no_grant_of_another(
    allowing: DemoGateway,
) -> None:
    """The same through an HTTP source: two objects at one path told apart by a query
    parameter (``/people?set=public``, ``/people?set=archive``) were one location (the
    path alone) and so one object to the "surely granted" answer."""
    gw = allowing
    _Sets.sets = payroll_sets(gw, "JW-RT43-C-PAY")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/civil"
        objects = [{"name": f"people_{s}", "path": f"/people?set={s}", "records": "data.items"}
                   for s in ("public", "archive")]  # fmt: skip
        _http_source(gw, "civil-api-rt43", base, objects)
        public, archive = f"{PUBLIC}_c", f"{ARCHIVE}_c"
        resp = public_granted_archive_compared(gw, "civil-api-rt43", public, archive, "JW-RT43-C")
    finally:
        server.shutdown()
        server.server_close()
    hits = hits_unless_refused(resp)
    assert not hits, f"{len(hits)} of the archive endpoint's masked ID numbers named"


def _http_source(gw: DemoGateway, source: str, base: str, objects: list[dict[str, str]]) -> None:
    _ok(gw.client.post("/api/v1/sources", headers=gw.headers("carl"), json={
        "id": source, "department": "civil", "kind": "http", "display_name": "civil API",
        "settings": {"base_url": base, "auth": "none", "objects": objects}}))  # fmt: skip


def hits_unless_refused(resp: Any) -> list[dict[str, Any]]:
    """A comparison's hits; none when it was refused (403)."""
    return [] if resp.status_code == 403 else list(_ok(resp)["rows"])
