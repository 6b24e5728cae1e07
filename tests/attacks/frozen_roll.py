"""Shared step of the freeze attacks (red teams 48 and 49): the dibao roll frozen while a
copy and a view of it stand, both held by the freeze."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import text

from tests.attacks.dibao_copy import publish_dibao_copy
from tests.attacks.test_redteam10_steward_frozen_entry_copy import DIBAO, QUERY, WHY, _post
from tests.attacks.test_redteam45_analyst_view_codebook import publish_view
from tests.gateway.demo_app import DemoGateway


@contextmanager
def entry_frozen(gw: DemoGateway, entry: str) -> Iterator[None]:
    """sam freezes ``entry`` for the block; root lifts it afterwards, whatever happened."""
    frozen = _post(gw, "sam", f"/datasets/{entry}/freeze", WHY)
    assert frozen.status_code == 200, frozen.text
    try:
        yield
    finally:
        lifted = _post(gw, "root", f"/datasets/{entry}/unfreeze", WHY)
        assert lifted.status_code == 200, lifted.text


def roll_frozen(gw: DemoGateway) -> AbstractContextManager[None]:
    """The dibao roll frozen for the block (``entry_frozen``)."""
    return entry_frozen(gw, DIBAO)


def freeze_roll_with_copy_and_view(gw: DemoGateway, tag: str) -> tuple[str, str]:
    """``civil.dibao_<tag>_copy`` and the view ``dibao_<tag>_view`` published, the roll
    frozen by sam, and each of the two refused to dora (423); their entry ids."""
    copy = f"civil.dibao_{tag}_copy"
    publish_dibao_copy(gw, copy)
    view = publish_view(gw, f"dibao_{tag}_view")
    assert _post(gw, "sam", f"/datasets/{DIBAO}/freeze", WHY).status_code == 200
    for entry in (copy, view):
        assert gw.query("dora", entry, QUERY).status_code == 423
    return copy, view


def roll_frozen_at(gw: DemoGateway) -> object:
    """The roll's ``frozen_at`` as stored (to write back after an insider's edit)."""
    with gw.services.engine.connect() as conn:
        return conn.execute(text("SELECT frozen_at FROM datasets WHERE id = :i"),
                            {"i": DIBAO}).scalar_one()  # fmt: skip
