"""A page of query results carries the query it answers, so its page buttons work
however the page arrived. A click on "preview" before htmx had loaded (a loaded
machine) posted the form natively and rendered the results page whole — with no query
form on it; "next page" then posted nothing but the page number, the query went without
its purpose and case reference and was refused (and raised a sensitive_without_case
alert against the analyst)."""

from __future__ import annotations

from contextlib import closing
from urllib.parse import urlencode

from tests.gateway.web.console.conftest import LiveConsole
from tests.gateway.web.console.page_form import page_form

DIBAO = "civil.dibao_recipients"
CASE = "JW-2024-PAGE"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _carried(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query a page form carries, as it was sent: each value is posted back as its
    UTF-8 in hex (printed as text, an invisible character came back escaped)."""
    assert ("carried", "1") in pairs, pairs
    kept = ("csrf_token", "carried")
    return [(n, v if n in kept else bytes.fromhex(v).decode()) for n, v in pairs]


def test_next_page_of_a_plain_form_post_keeps_the_query(live: LiveConsole) -> None:
    client, csrf = live.sign_in("alice")
    with closing(client):
        first = client.post(f"/console/query/{DIBAO}/preview", data={
            "csrf_token": csrf, "purpose": "supervision", "case_ref": CASE,
            "page_size": "20", "page": "1"})  # fmt: skip
        assert first.status_code == 200, first.text[:500]
        posted = page_form(first.text)
        carried = _carried(posted)
        names = [n for n, _ in carried]
        assert ("case_ref", CASE) in carried and ("purpose", "supervision") in carried
        assert "page" not in names and names.count("csrf_token") == 1
        assert 'name="page" value="2"' in first.text  # there is a next page
        again = urlencode([*posted, ("page", "2")])
        second = client.post(f"/console/query/{DIBAO}/preview", content=again, headers=FORM)
        assert second.status_code == 200, second.text[:500]
        assert 'name="page" value="1"' in second.text  # the previous page's button
        assert ("case_ref", CASE) in _carried(page_form(second.text))


def test_the_carried_query_is_escaped(live: LiveConsole) -> None:
    client, csrf = live.sign_in("alice")
    hostile = '"><script>alert(1)</script>'
    with closing(client):
        page = client.post(f"/console/query/{DIBAO}/preview", data={
            "csrf_token": csrf, "purpose": "supervision", "case_ref": f"JW-{hostile}"[:64],
            "page_size": "20"})  # fmt: skip
    assert "<script>alert(1)</script>" not in page.text
    assert ("case_ref", f"JW-{hostile}"[:64]) in _carried(page_form(page.text))
