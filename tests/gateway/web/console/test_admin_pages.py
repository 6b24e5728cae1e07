"""The audit, admin and comparisons pages over HTTP against the live demo gateway: each
page and form refused by the server (403) to every role that may not use it, posts
without the session's CSRF token refused, hostile values escaped, reads recorded as
the API records them, the admin's own account out of their reach (separation of
duties), and the ID number of "who looked up whom" never in a URL, a page or the trail.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from audit.search import EventFilter, list_events
from tests.gateway.web.console.conftest import LiveConsole

DIBAO = "civil.dibao_recipients"
PAYROLL = "finance.payroll"
ID_NUMBER = "430121199001011234"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
COMPARE = {
    "left_dataset": PAYROLL, "left_key": "id_number", "left_fields": "name",
    "right_dataset": DIBAO, "right_key": "id_number", "right_fields": "region_code",
    "purpose": "supervision", "case_ref": "JW-CMP-9", "page_size": "20", "page": "1",
}  # fmt: skip
ARTHUR = {"display_name": "Arthur 王亚瑟", "clearance": "L2", "jurisdiction": "*", "department": ""}
EVERYONE = {"alice", "carl", "sam", "root"}
OFFICERS = {"sam", "root"}
# (method, path, form, roles that may use it, the status those roles get)
MATRIX: list[tuple[str, str, dict[str, Any], set[str], int]] = [
    ("GET", "/console/audit", {}, OFFICERS, 200),
    ("GET", "/console/audit?actor=alice&type=query.*", {}, OFFICERS, 200),
    ("GET", "/console/audit/events/1", {}, OFFICERS, 200),
    ("POST", "/console/audit/lookups", {"id_number": ID_NUMBER}, OFFICERS, 200),
    ("POST", "/console/audit/verify", {}, OFFICERS, 200),
    ("POST", "/console/audit/export", {"format": "csv"}, OFFICERS, 200),
    ("GET", "/console/audit/charts", {}, OFFICERS, 200),
    ("GET", "/console/audit/charts.json", {}, OFFICERS, 200),
    ("GET", "/console/audit/alerts", {}, OFFICERS, 200),
    ("POST", "/console/audit/alerts/feedc0de/acknowledge", {"note": "seen"}, OFFICERS, 404),
    ("POST", "/console/audit/alerts/feedc0de/resolve", {"note": "done"}, OFFICERS, 404),
    ("GET", "/console/audit/actions", {}, OFFICERS, 200),
    ("POST", "/console/audit/actions/suspend", {"subject": "nobody", "reason": "x"}, OFFICERS,
     404),
    ("POST", "/console/audit/actions/revoke-grants", {"subject": "nobody", "reason": "x"},
     OFFICERS, 404),
    ("POST", "/console/audit/actions/freeze", {"dataset": "no.such", "reason": "x"}, OFFICERS,
     404),
    ("POST", "/console/audit/actions/unsuspend", {"subject": "nobody", "reason": "x"}, {"root"},
     404),
    ("POST", "/console/audit/actions/unfreeze", {"dataset": "no.such", "reason": "x"}, {"root"},
     404),
    ("GET", "/console/comparisons", {}, {"alice"}, 200),
    ("POST", "/console/comparisons/run", COMPARE, {"alice"}, 200),
    ("POST", "/console/comparisons/models/demo.payroll_on_dibao/run",
     {"purpose": "supervision", "case_ref": "JW-M-0"}, {"alice"}, 303),
    ("GET", "/console/comparisons/runs/no-such-run", {}, {"alice"}, 404),
    ("GET", "/console/admin", {}, {"root"}, 200),
    ("GET", "/console/admin/users/arthur", {}, {"root"}, 200),
    ("POST", "/console/admin/users", {"subject": "newbie", "display_name": "New", "clearance": "L1",
                                      "jurisdiction": "430121"}, {"root"}, 303),
    ("POST", "/console/admin/users/arthur", ARTHUR, {"root"}, 303),
    ("POST", "/console/admin/users/arthur/roles", {"op": "add", "role": "analyst", "domain": "*"},
     {"root"}, 303),
    ("POST", "/console/admin/users/newbie/password",
     {"password": "a-new-password-1", "confirm": "a-new-password-1"}, {"root"}, 303),
]  # fmt: skip
POSTS = sorted({(path, frozenset(form.items()), min(allowed)) for method, path, form, allowed, _
                in MATRIX if method == "POST"})  # fmt: skip


Session = tuple[httpx.Client, str]
SignIn = Callable[[str], Session]


@pytest.fixture(scope="module")
def signed(live: LiveConsole) -> Iterator[Callable[[str], Session]]:
    """One signed-in client per user for the module (sign-ins are rate limited)."""
    made: dict[str, Session] = {}

    def sign_in(subject: str) -> Session:
        if subject not in made:
            made[subject] = live.sign_in(subject)
        return made[subject]

    yield sign_in
    for client, _ in made.values():
        client.close()


def _call(client: httpx.Client, method: str, path: str, form: dict[str, Any],
          csrf: str | None) -> httpx.Response:  # fmt: skip
    if method == "GET":
        return client.get(path)
    data = dict(form)
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(path, data=data)


@pytest.mark.parametrize("subject", ["alice", "carl", "sam", "root"])
def test_each_role_is_refused_what_it_may_not_use(
    live: LiveConsole, signed: SignIn, subject: str
) -> None:
    client, csrf = signed(subject)
    for method, path, form, allowed, status in MATRIX:
        answer = _call(client, method, path, form, csrf)
        if subject in allowed:
            assert answer.status_code == status, (subject, path, answer.text[:300])
        else:
            assert answer.status_code == 403, (subject, method, path, answer.status_code)
            assert "text/html" in answer.headers["content-type"]
    menu = client.get("/console").text
    assert ('href="/console/audit"' in menu) == (subject in OFFICERS)
    assert ('href="/console/admin"' in menu) == (subject == "root")
    assert ('href="/console/comparisons"' in menu) == (subject == "alice")
    refused = list_events(store=live.gw.services.audit.store,
                          filters=EventFilter(actor=subject, type="request.refused"),
                          limit=200)["items"]  # fmt: skip
    if subject not in OFFICERS:
        assert any(e["resource"] == "/console/audit" for e in refused)


@pytest.mark.parametrize(("path", "form", "subject"), POSTS)
def test_posts_without_the_csrf_token_are_refused(
    signed: SignIn, path: str, form: frozenset[tuple[str, str]], subject: str
) -> None:
    client, csrf = signed(subject)
    assert client.post(path, data=dict(form)).status_code == 403
    assert client.post(path, data={**dict(form), "csrf_token": "x" * 43}).status_code == 403
    other = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post(path, data={**dict(form), "csrf_token": csrf},
                       headers=other).status_code == 403  # fmt: skip


def _events(live: LiveConsole, **filters: Any) -> list[dict[str, Any]]:
    return list(list_events(store=live.gw.services.audit.store, filters=EventFilter(**filters),
                            limit=200)["items"])  # fmt: skip


def test_officers_reads_are_on_record_and_the_id_number_never_shows(
    live: LiveConsole, signed: SignIn
) -> None:
    client, csrf = signed("sam")
    assert client.get("/console/audit", params={"actor": "alice"}).status_code == 200
    found = client.post("/console/audit/lookups", data={"csrf_token": csrf,
                                                        "id_number": ID_NUMBER})  # fmt: skip
    assert found.status_code == 200
    token = re.search(r'id="subject-token">(tk_[0-9a-f]+)<', found.text)
    assert token is not None
    assert ID_NUMBER not in found.text and ID_NUMBER not in str(found.url)
    # an ID number in the query string is not a lookup: the route is a POST
    assert client.get("/console/audit/lookups", params={"id_number": ID_NUMBER}
                      ).status_code == 405  # fmt: skip
    reads = _events(live, actor="sam", type="audit.read")
    assert any((e["details"].get("query") or {}).get("actor") == "alice" for e in reads)
    assert any(e["details"].get("lookups_of") == token.group(1) for e in reads)
    everything = list_events(store=live.gw.services.audit.store, filters=EventFilter(),
                             limit=1000)["items"]  # fmt: skip
    assert not [e for e in everything if ID_NUMBER in str(e)]


def test_verify_and_export(live: LiveConsole, signed: SignIn) -> None:
    client, csrf = signed("sam")
    verified = client.post("/console/audit/verify", data={"csrf_token": csrf})
    assert verified.status_code == 200 and "审计链完整" in verified.text
    bad = client.post("/console/audit/verify", data={"csrf_token": csrf, "from": "x"})
    assert bad.status_code == 400
    export = client.post("/console/audit/export", data={"csrf_token": csrf,
                                                        "format": "jsonl"})  # fmt: skip
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert export.text.count("\n") > 10
    charts = client.get("/console/audit/charts.json").json()
    assert set(charts) == {"per_day", "released", "alerts"}
    assert len(charts["per_day"]["labels"]) == 14
    assert _events(live, actor="sam", type="audit.verified")
    assert _events(live, actor="sam", type="audit.exported")


def test_hostile_values_are_escaped(live: LiveConsole, signed: SignIn) -> None:
    alice, alice_csrf = signed("alice")
    answer = alice.post(f"/console/query/{DIBAO}/preview", data={
        "csrf_token": alice_csrf, "fields": ["name", "region_code"],
        "purpose": "supervision", "case_ref": HOSTILE, "page_size": "20"})  # fmt: skip
    assert answer.status_code == 200
    compared = alice.post("/console/comparisons/run", data={
        **COMPARE, "csrf_token": alice_csrf, "left_fields": HOSTILE})  # fmt: skip
    assert compared.status_code in (400, 403)
    assert "<script>window.__pwned" not in compared.text
    root, root_csrf = signed("root")
    made = root.post("/console/admin/users", data={
        "csrf_token": root_csrf, "subject": "hostile", "display_name": HOSTILE,
        "clearance": "L1", "jurisdiction": ""})  # fmt: skip
    assert made.status_code == 303
    pages = [root.get("/console/admin").text, root.get("/console/admin/users/hostile").text,
             root.get("/console/audit", params={"case_ref": HOSTILE}).text]  # fmt: skip
    for html in pages:
        assert "<script>window.__pwned" not in html and "<img src=x" not in html
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html


def test_admin_changes_users_but_never_their_own_account(live: LiveConsole, signed: SignIn) -> None:
    client, csrf = signed("root")
    mine = client.get("/console/admin/users/root")
    assert mine.status_code == 200 and "另一位管理员" in mine.text
    for path, form in [
        ("/console/admin/users/root", {"display_name": "Root", "clearance": "L4",
                                       "jurisdiction": "*"}),
        ("/console/admin/users/root/roles", {"op": "add", "role": "analyst", "domain": "*"}),
        ("/console/admin/users/root/password", {"password": "p" * 16, "confirm": "p" * 16}),
    ]:  # fmt: skip
        assert client.post(path, data={**form, "csrf_token": csrf}).status_code == 403, path
    # another user: a clearance, a jurisdiction, a role and a password
    base = {"csrf_token": csrf, "display_name": "Dora 邓朵拉", "clearance": "L2",
            "jurisdiction": "430121, 430102"}  # fmt: skip
    assert client.post("/console/admin/users/dora", data=base).status_code == 303
    added = client.post("/console/admin/users/dora/roles", data={
        "csrf_token": csrf, "op": "add", "role": "steward", "domain": "civil"})  # fmt: skip
    assert added.status_code == 303
    page = client.get("/console/admin/users/dora").text
    assert "430121, 430102" in page and "(civil)" in page
    removed = client.post("/console/admin/users/dora/roles", data={
        "csrf_token": csrf, "op": "remove", "role": "steward", "domain": "civil"})  # fmt: skip
    assert removed.status_code == 303
    short = client.post("/console/admin/users/dora/password", data={
        "csrf_token": csrf, "password": "short", "confirm": "short"})  # fmt: skip
    assert short.status_code == 400
    differ = client.post("/console/admin/users/dora/password", data={
        "csrf_token": csrf, "password": "x" * 14, "confirm": "y" * 14})  # fmt: skip
    assert differ.status_code == 400
    new = "dora-new-password-42"
    done = client.post("/console/admin/users/dora/password", data={
        "csrf_token": csrf, "password": new, "confirm": new})  # fmt: skip
    assert done.status_code == 303
    assert client.get("/console/admin/users/no-such-user").status_code == 404
    dora, _ = live.sign_in("dora", new)
    dora.close()
    changes = _events(live, actor="root", type="user.updated")
    assert any(e["details"].get("password") == "set" for e in changes)
    assert not [e for e in changes if new in str(e)]
    assert _events(live, actor="root", type="role.assigned")
    assert _events(live, actor="root", type="role.unassigned")
    with live.gw.services.sessions() as session:
        from catalog.models import User

        user = session.get(User, "dora")
        assert user is not None and user.clearance == "L2"
        assert list(user.jurisdiction) == ["430121", "430102"]


def test_comparisons_page_through_the_matches(live: LiveConsole, signed: SignIn) -> None:
    client, csrf = signed("alice")
    first = client.post("/console/comparisons/run", data={**COMPARE, "csrf_token": csrf,
                                                          "page_size": "20"})  # fmt: skip
    assert first.status_code == 200, first.text[:500]
    assert "key_token" in first.text and "tk_" in first.text
    refused = client.post("/console/comparisons/run", data={
        **COMPARE, "csrf_token": csrf, "purpose": "marketing"})  # fmt: skip
    assert refused.status_code in (400, 403)
    started = _events(live, actor="alice", type="comparison.started", case_ref="JW-CMP-9")
    assert started


def test_a_saved_model_runs_and_its_hits_page(live: LiveConsole, signed: SignIn) -> None:
    """alice runs the demo's payroll-on-dibao model (shared with every level) and pages
    through its hits; carl may neither start a run nor read hers."""
    client, csrf = signed("alice")
    page = client.get("/console/comparisons").text
    assert 'id="model-demo.payroll_on_dibao"' in page
    started = client.post("/console/comparisons/models/demo.payroll_on_dibao/run", data={
        "csrf_token": csrf, "purpose": "supervision", "case_ref": "JW-MODEL-1"})  # fmt: skip
    assert started.status_code == 303, started.text[:300]
    run = started.headers["location"]
    deadline = time.monotonic() + 60
    while True:
        view = client.get(run)
        assert view.status_code == 200, view.text[:300]
        status = re.search(r'id="run-status">([a-z]+)<', view.text)
        assert status is not None
        if status.group(1) not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.3)
    assert status.group(1) == "done", view.text[:2000]
    assert 'id="results"' in view.text
    assert client.get(run, params={"size": "7"}).status_code == 400
    carl, carl_csrf = signed("carl")
    assert (
        carl.post(
            "/console/comparisons/models/demo.payroll_on_dibao/run",
            data={"csrf_token": carl_csrf, "purpose": "supervision", "case_ref": "X"},
        ).status_code
        == 403
    )
    assert carl.get(run).status_code == 403
    assert _events(live, actor="alice", type="comparison_run.hits_read")


def test_response_actions_and_who_may_lift_them(live: LiveConsole, signed: SignIn) -> None:
    """sam suspends arthur and freezes an entry; root (another person) lifts both; root
    cannot lift a freeze he imposed himself — the service's rule, shown as a 403."""
    sam, sam_csrf = signed("sam")
    root, root_csrf = signed("root")
    why = {"reason": "核实中"}
    done = sam.post("/console/audit/actions/suspend", data={**why, "csrf_token": sam_csrf,
                                                            "subject": "arthur"})  # fmt: skip
    assert done.status_code == 200 and "用户已暂停" in done.text
    frozen = sam.post("/console/audit/actions/freeze", data={**why, "csrf_token": sam_csrf,
                                                            "dataset": PAYROLL})  # fmt: skip
    assert frozen.status_code == 200 and "数据集已冻结" in frozen.text
    assert sam.post("/console/audit/actions/unfreeze", data={
        **why, "csrf_token": sam_csrf, "dataset": PAYROLL}).status_code == 403  # fmt: skip
    lifted = root.post("/console/audit/actions/unsuspend", data={
        **why, "csrf_token": root_csrf, "subject": "arthur"})  # fmt: skip
    assert lifted.status_code == 200 and "已解除暂停" in lifted.text
    thawed = root.post("/console/audit/actions/unfreeze", data={
        **why, "csrf_token": root_csrf, "dataset": PAYROLL})  # fmt: skip
    assert thawed.status_code == 200
    again = root.post("/console/audit/actions/freeze", data={
        **why, "csrf_token": root_csrf, "dataset": PAYROLL})  # fmt: skip
    assert again.status_code == 200
    own = root.post("/console/audit/actions/unfreeze", data={
        **why, "csrf_token": root_csrf, "dataset": PAYROLL})  # fmt: skip
    assert own.status_code == 403
    for etype in ("user.suspended", "dataset.frozen"):
        assert _events(live, actor="sam", type=etype)
    for etype in ("user.unsuspended", "dataset.unfrozen"):
        assert _events(live, actor="root", type=etype)


def test_verify_names_the_first_bad_sequence_number(live: LiveConsole, signed: SignIn) -> None:
    """Last in this module: an insider edits one event's body in the middle of the chain;
    the console's verify shows that event's seq as the first bad one (and the gateway
    seals, as the API's verify seals it)."""
    from tests.attacks.test_insider_audit import _insider

    # an event of its own to edit: xdist may run this test apart from the module's others
    resp = live.gw.query("alice", DIBAO, {"purpose": "supervision", "case_ref": "JW-VERIFY",
                                          "fields": ["region_code"], "limit": 1})  # fmt: skip
    assert resp.status_code == 200, resp.text
    seq = _events(live, actor="alice", type="query.started", purpose="supervision")[-1]["seq"]
    _insider(live.gw, "UPDATE audit_events SET body = replace(body, 'supervision', "
                      f"'supervisiom') WHERE seq = {int(seq)}")  # fmt: skip
    client, csrf = signed("sam")
    verified = client.post("/console/audit/verify", data={"csrf_token": csrf})
    assert verified.status_code == 200
    assert "审计链已损坏" in verified.text
    first = re.search(r'id="first-bad">(\d+)<', verified.text)
    assert first is not None and first.group(1) == str(seq)
    assert live.gw.services.audit.seal.sealed
