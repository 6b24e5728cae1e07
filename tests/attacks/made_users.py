"""Accounts an attack test makes through the admin API (root, on record), shared by the
tests that need one more analyst than the demo has."""

from __future__ import annotations

from tests.gateway.demo_app import DemoGateway


def analyst_made_by_root(gw: DemoGateway, subject: str) -> None:
    """``subject`` as an analyst of every region at L3, made by root unless it exists."""
    root = gw.headers("root")
    listed = gw.client.get("/api/v1/admin/users", headers=root).json()
    if any(u["subject"] == subject for u in listed):
        return
    made = gw.client.put(
        f"/api/v1/admin/users/{subject}",
        headers=root,
        json={"display_name": subject, "clearance": "L3", "jurisdiction": [""]},
    )
    assert made.status_code == 200, made.text
    given = gw.client.post(f"/api/v1/admin/users/{subject}/roles", headers=root,
                           json={"role": "analyst", "domain": "*"})  # fmt: skip
    assert given.status_code == 200, given.text
