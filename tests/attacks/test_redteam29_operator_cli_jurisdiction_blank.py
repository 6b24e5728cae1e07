"""Red team 29, as an operator on the gateway's host (an administrator's typo): a
trailing comma in ``sluice users add --jurisdiction`` gave every region.

Rule: a user limited to some counties reads only their rows; the empty prefix ``""``
is "every region" (``all_regions`` in ``policies/rego/decision.rego``: no row filter
narrows them). The console's user form names it explicitly (``*``) and drops blank
parts of its comma-separated list; the API takes a list, where ``""`` is explicit too.

Attack: the operator sets yan's counties with ``--jurisdiction "430121,"`` (a trailing
comma, or ``"430121,,430102"``, or a space): the CLI split the text on commas and kept
the blank part, so yan's jurisdiction was ``["430121", ""]`` — every region of the
province, on record as a county list an officer reads as one county.

Expected: the CLI reads the list as the console does (one parser): blank parts are no
prefix, ``*`` is every region.

On the embedded SQLite default and on PostgreSQL (``deployment``).
"""

from __future__ import annotations

import pytest

from tests.attacks.redteam27 import run_cli
from tests.gateway.demo_app import DemoGateway


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("430121,", ["430121"]), ("430121,,430102", ["430121", "430102"]), (" ", []),
     ("430121, *", ["430121", ""])],
    ids=["trailing-comma", "double-comma", "space", "star"],
)  # fmt: skip
def test_a_blank_part_of_the_jurisdiction_is_no_region(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, typed: str, stored: list[str]
) -> None:
    gw = deployment
    result = run_cli(gw, monkeypatch, "users", "add", "yan", "--name", "Yan", "--clearance",
                     "L3", "--jurisdiction", typed)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert gw.listed_user("yan")["jurisdiction"] == stored
