"""Red team 60, as an administrator (a sibling of red team 55's schedule county): a
jurisdiction prefix in digits that are not ASCII.

``PUT /api/v1/admin/users/{subject}`` checked each jurisdiction prefix with
``str.isdigit``, which is true of any Unicode digit — full-width ``４３０１２１`` as an
IME types it, superscripts ``²`` — so such a prefix was stored: a user whose
jurisdiction reads no row of any source (region codes are ASCII everywhere else), with
the admin told it was saved. The schedule's county is ``[0-9]{6}`` since red team 55.

Expected: a 400 naming the prefix, as for any other that is not region-code digits;
the user as it was. Both deployments.
"""

from __future__ import annotations

import pytest

from tests.gateway.demo_app import DemoGateway

USERS = "/api/v1/admin/users"


@pytest.mark.parametrize("prefix", ["４３０１２１", "43012¹", "٤٣٠١"])
def test_a_jurisdiction_in_non_ascii_digits_is_refused(
    deployment: DemoGateway, prefix: str
) -> None:
    gw = deployment
    before = gw.listed_user("alice")
    body = {k: before[k] for k in ("display_name", "department", "clearance")}
    resp = gw.client.put(f"{USERS}/alice", headers=gw.headers("root"),
                         json={**body, "jurisdiction": [prefix]})  # fmt: skip
    after = gw.listed_user("alice")
    if resp.status_code == 200:  # put back what the test changed
        gw.restore_user(before)
    assert resp.status_code == 400, resp.text[:300]
    assert after["jurisdiction"] == before["jurisdiction"]
