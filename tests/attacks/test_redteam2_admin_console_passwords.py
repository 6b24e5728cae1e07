"""Red team 2, as an admin: one person becoming two through the console's passwords.

The two-person rules (another admin lifts a freeze or a suspension, no admin changes
their own account, another officer approves an unseal) assume each account is one
person. An admin who may set any account's console password can sign in *as* another
admin or officer (setting theirs), or as a second admin of their own making (create
``root2``, give it ``admin``, set its password), and then be the "other" person — with
the trail naming the victim or the sock puppet. A password chosen by an admin must
never sign in an account that holds a privileged role (admin, security officer): those
are set on the host (``sluice users passwd``) or come from the identity provider.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from catalog.models import Dataset
from gateway.web.console.passwords import set_demo_passwords
from gateway.web.console.runtime import Console
from tests.attacks.console_sign_in import page_csrf, post_sign_in
from tests.gateway.demo_app import DemoGateway

_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
_META = re.compile(r'name="csrf-token" content="([^"]+)"')
DATASET = "civil.dibao_recipients"
NEW = "an-admin-chose-this-1"


def _console(gw: DemoGateway) -> Console:
    console: Console = gw.client.app.state.console
    return console


def _sign_in(gw: DemoGateway, subject: str, password: str) -> tuple[TestClient, str | None]:
    answer, client = post_sign_in(gw, subject, password)
    return client, page_csrf(client) if answer.status_code == 303 else None


@pytest.fixture(scope="module")
def passwords(deployment: DemoGateway) -> dict[str, str]:
    return set_demo_passwords(_console(deployment).accounts, ["root", "sam", "alice"])


def test_an_admin_cannot_sign_in_as_the_officer_by_setting_their_password(
    deployment: DemoGateway, passwords: dict[str, str]
) -> None:
    root, csrf = _sign_in(deployment, "root", passwords["root"])
    assert csrf is not None
    root.post("/console/admin/users/sam/password",
              data={"csrf_token": csrf, "password": NEW, "confirm": NEW})  # fmt: skip
    _as_sam, sam_csrf = _sign_in(deployment, "sam", NEW)
    assert sam_csrf is None, "root signed in as the security officer"


def test_an_admin_cannot_make_a_second_admin_to_lift_their_own_freeze(
    deployment: DemoGateway, passwords: dict[str, str]
) -> None:
    root, csrf = _sign_in(deployment, "root", passwords["root"])
    assert csrf is not None
    frozen = root.post("/console/audit/actions/freeze", data={
        "csrf_token": csrf, "dataset": DATASET, "reason": "looks odd"})  # fmt: skip
    assert frozen.status_code in (200, 303), frozen.text[:300]
    # a sock puppet: a new account, an admin role in one domain, a password root chose;
    # the role first, then the password, then the other way round
    for puppet, role_first in (("root2", True), ("root3", False)):
        made = root.post("/console/admin/users", data={
            "csrf_token": csrf, "subject": puppet, "display_name": "Root Two",
            "clearance": "L1", "jurisdiction": ""})  # fmt: skip
        assert made.status_code == 303, made.text[:300]
        steps = [("roles", {"op": "add", "role": "admin", "domain": "*"}),
                 ("password", {"password": NEW, "confirm": NEW})]  # fmt: skip
        for step, form in steps if role_first else reversed(steps):
            root.post(f"/console/admin/users/{puppet}/{step}", data={"csrf_token": csrf, **form})
        twin, twin_csrf = _sign_in(deployment, puppet, NEW)
        if twin_csrf is not None:
            lifted = twin.post("/console/audit/actions/unfreeze", data={
                "csrf_token": twin_csrf, "dataset": DATASET, "reason": "fine"})  # fmt: skip
            assert lifted.status_code >= 400, f"{puppet} lifted root's own freeze"
    # a non-privileged sign-in that is given admin later gains nothing either
    root.post("/console/admin/users", data={
        "csrf_token": csrf, "subject": "root4", "display_name": "Root Four",
        "clearance": "L1", "jurisdiction": ""})  # fmt: skip
    root.post("/console/admin/users/root4/password",
              data={"csrf_token": csrf, "password": NEW, "confirm": NEW})  # fmt: skip
    later, later_csrf = _sign_in(deployment, "root4", NEW)
    assert later_csrf is not None  # an account without privileged roles: fine
    root.post(
        "/console/admin/users/root4/roles",
        data={"csrf_token": csrf, "op": "add", "role": "admin", "domain": "*"},
    )
    later.post("/console/audit/actions/unfreeze", data={
        "csrf_token": later_csrf, "dataset": DATASET, "reason": "fine"})  # fmt: skip
    with deployment.services.sessions() as session:
        row = session.get(Dataset, DATASET)
        assert row is not None and row.frozen_at is not None, "root's freeze was lifted"
