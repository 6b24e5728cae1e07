"""Red team 26, as a steward (two of carl's requests at once).

carl drafts a new entry over ``civil-db`` while he deregisters ``civil-db``. The
deregistration holds the write lock of every entry of the source it loaded — not of
one still being drafted: the draft introspected the source, the deregistration
committed, and the draft was then made, and put on record ``ok``, over a deregistered
source. Rule: no entry of a deregistered source is made after it; the draft is refused
before its record.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.stewardship.registration import datasets
from tests.attacks.deployments import KINDS, open_deployment
from tests.gateway.comparison_env import events

ENTRY = "civil.rt26_late_draft"


@pytest.mark.parametrize("kind", KINDS)
def test_a_draft_racing_the_deregistration_of_its_source(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_deployment(kind, tmp_path / "home", db_prefix="sluice_rt26_dereg") as gw:
        original = datasets._inspect_object
        introspected, go_on = threading.Event(), threading.Event()

        def inspect(*args: Any, **kwargs: Any) -> Any:
            found = original(*args, **kwargs)
            introspected.set()
            go_on.wait(10)
            return found

        monkeypatch.setattr(datasets, "_inspect_object", inspect)
        result: list[Any] = []
        body = {"source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": ENTRY}
        draft = threading.Thread(target=lambda: result.append(gw.client.post(
            "/api/v1/datasets", json=body, headers=gw.headers("carl"))))  # fmt: skip
        draft.start()
        assert introspected.wait(10)
        gone = gw.client.delete("/api/v1/sources/civil-db", headers=gw.headers("carl"))
        go_on.set()
        draft.join(30)
        assert gone.status_code == 200, gone.text
        made = result[0]
        drafted = [e for e in events(gw, types=("dataset.updated",))
                   if e["resource"] == f"dataset:{ENTRY}"]  # fmt: skip
        assert made.status_code == 409 and not drafted, (made.status_code, made.text, drafted)
