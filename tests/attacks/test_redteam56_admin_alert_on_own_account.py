"""Red team 56, as an admin: close the alert about an account whose password you chose.

Rule: an alert about your own conduct is acknowledged and resolved by another officer
or admin (``gateway.web.routes.audit._move``, separation of duties; red team 46 added
the alert about your own records). THREAT_MODEL's known gap: an admin who sets a local
account's console password can sign in as that account, so one admin can make an
analyst of their own and read alone — left visible on the trail for the officers, whose
alerts are what shows it to them.

Attack: root makes ``mal56`` an analyst and sets her console password in the console
(``user.updated {"password": "set", "console": true}`` by root), signs in as her with
it, and as her asks six times for what policy refuses: ``repeated_denials`` opens about
``mal56``. Root — an admin, who may handle alerts — resolves it ("spoke to her"): the
separation of duties asked only whether root was the alert's actor, did one of its
events or is the person it is about, so the alert about the account root holds the
password of was closed by root. Nobody else acted.

Expected: the alert is about root too (403 to root, on record as a refusal); the
officer, who chose nothing for the account, handles it. Both deployments.
"""

from __future__ import annotations

from typing import Any

from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import console_sign_in, post_sign_in
from tests.attacks.made_users import analyst_made_by_root
from tests.gateway.demo_app import DemoGateway

DIBAO = "civil.dibao_recipients"
ALERTS = "/api/v1/audit/alerts"
CHOSEN = "a-password-root-chose-56"
REFUSED = {"purpose": "curiosity", "case_ref": "JW-RT56-MAL", "fields": ["region_code"],
           "limit": 1}  # fmt: skip


def _alert_about(gw: DemoGateway, actor: str) -> dict[str, Any]:
    """The ``repeated_denials`` alert about ``actor``, as the officer lists it."""
    alerts = gw.client.get(ALERTS, headers=gw.headers("sam")).json()["alerts"]
    return dict(next(a for a in alerts
                     if a["rule"] == "repeated_denials" and a.get("actor") == actor))  # fmt: skip


def test_an_admin_does_not_resolve_the_alert_about_an_account_whose_password_they_chose(
    deployment: DemoGateway,
) -> None:
    gw = deployment
    analyst_made_by_root(gw, "mal56")
    console: Console = gw.client.app.state.console
    root_password = set_demo_passwords(console.accounts, ["root"])["root"]
    root, csrf = console_sign_in(gw, "root", root_password)
    form = {"csrf_token": csrf, "password": CHOSEN, "confirm": CHOSEN}
    chosen = root.post("/console/admin/users/mal56/password", data=form)
    assert chosen.status_code == 303, chosen.text[:300]
    signed_in, _ = post_sign_in(gw, "mal56", CHOSEN)  # root holds the account now
    assert signed_in.status_code == 303, signed_in.text[:300]

    for _ in range(6):  # as mal56: refused by policy (no such purpose)
        denied = gw.query("mal56", DIBAO, REFUSED)
        assert denied.status_code == 403, denied.text
    alert = _alert_about(gw, "mal56")

    note = {"note": "spoke to her: a typo in the purpose"}
    closed = gw.client.post(f"{ALERTS}/{alert['id']}/resolve", json=note,
                            headers=gw.headers("root"))  # fmt: skip
    assert closed.status_code == 403, closed.text
    acked = gw.client.post(f"{ALERTS}/{alert['id']}/acknowledge", json=note,
                           headers=gw.headers("root"))  # fmt: skip
    assert acked.status_code == 403, acked.text
    assert _alert_about(gw, "mal56")["state"] == "open"
    # the officer, who chose nothing for her, handles it
    handled = gw.client.post(f"{ALERTS}/{alert['id']}/acknowledge", json=note,
                             headers=gw.headers("sam"))  # fmt: skip
    assert handled.status_code == 200, handled.text
