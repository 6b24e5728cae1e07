"""As a database insider beside an admin: a password session relabelled as an OIDC one.

A password an admin chose never signs in an account that holds a privileged role: the
sign-in refuses it, and the guard ends a password session once its account gains such a
role (``via == "password"``, ``PasswordAccounts.admin_chose``). ``via`` was read from the
session's row, outside the cookie's HMAC, so ``UPDATE console_sessions SET via = 'oidc'``
kept the session of an account root had made, given a password and then made admin: a
second admin of root's own making, able to lift root's freeze (the two-person rule). The
cookie now signs how the session signed in, and a row that says otherwise signs no one in.
"""

from __future__ import annotations

from catalog.models import Dataset
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

DATASET = "civil.dibao_recipients"
CHOSEN = "root-chose-this-one-9"
PUPPET = "root9"


def test_a_relabelled_password_session_does_not_survive_a_privileged_role(
    deployment: DemoGateway,
) -> None:
    root, csrf = console_sign_in(deployment, "root")
    frozen = root.post("/console/audit/actions/freeze", data={
        "csrf_token": csrf, "dataset": DATASET, "reason": "looks odd"})  # fmt: skip
    assert frozen.status_code in (200, 303), frozen.text[:300]
    made = root.post("/console/admin/users", data={
        "csrf_token": csrf, "subject": PUPPET, "display_name": "Root Nine",
        "clearance": "L1", "jurisdiction": ""})  # fmt: skip
    assert made.status_code == 303, made.text[:300]
    root.post(f"/console/admin/users/{PUPPET}/password",
              data={"csrf_token": csrf, "password": CHOSEN, "confirm": CHOSEN})  # fmt: skip
    puppet, puppet_csrf = console_sign_in(deployment, PUPPET, CHOSEN)
    deployment.sql("UPDATE console_sessions SET via = 'oidc' WHERE subject = :s", s=PUPPET)
    root.post(f"/console/admin/users/{PUPPET}/roles",
              data={"csrf_token": csrf, "op": "add", "role": "admin", "domain": "*"})  # fmt: skip
    lifted = puppet.post("/console/audit/actions/unfreeze", data={
        "csrf_token": puppet_csrf, "dataset": DATASET, "reason": "fine"})  # fmt: skip
    with deployment.services.sessions() as session:
        row = session.get(Dataset, DATASET)
        assert row is not None and row.frozen_at is not None, "root's own freeze was lifted"
    assert lifted.status_code == 303 and "/console/sign-in" in lifted.headers["location"]
    root.post("/console/audit/actions/unfreeze", data={
        "csrf_token": csrf, "dataset": DATASET, "reason": "tidy"})  # fmt: skip


def test_a_session_row_whose_via_was_changed_signs_nobody_in(deployment: DemoGateway) -> None:
    alice, _csrf = console_sign_in(deployment, "alice")
    assert alice.get("/console").status_code == 200
    deployment.sql("UPDATE console_sessions SET via = 'oidc' WHERE subject = 'alice'")
    page = alice.get("/console")
    assert page.status_code == 303 and "/console/sign-in" in page.headers["location"]
