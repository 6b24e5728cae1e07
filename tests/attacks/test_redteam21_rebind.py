"""Red team 21: ``sluice catalog rebind`` attacked as the operator meets it on the host.

1. The command shows the row, asks, then binds. It bound the row *as it was loaded
   before the question*: a steward's save that committed while the operator read the
   values (or an entry that was fine all along, rebound by mistake) was overwritten —
   the trail named the shown state again and the row's seal column was written back
   onto the saved values, so the entry verified for no one (423 to every analyst) and
   the command itself refused it from then on ("does not verify"), a hand repair.
   The values shown left out two of the field columns an entry's seal covers (type,
   mask override), in which a replay may differ from the current state alone.
2. A schedule its owner deleted through the gateway (the trail's newest state of it:
   ``removed``), written back by the database insider as it was before the deletion,
   seal and all, was rebound on request and ran again in its owner's name.
"""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from catalog.models import Source
from gateway.cli.main import cli
from gateway.stewardship.row_trail import bind_changed
from tests.attacks.test_crash_between_binding_and_commit import _rebind
from tests.attacks.test_insider_entry_seals import DIBAO, ID_QUERY
from tests.attacks.test_insider_model_schedule_seals import MODEL, _scheduled
from tests.attacks.test_insider_replay_sources_models import SCHEDULE_ROW, _update_back
from tests.attacks.test_insider_row_replay import _rows
from tests.gateway.demo_app import DemoGateway


def test_a_schedule_its_owner_deleted_is_never_rebound(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = deployment
    schedule_id = _scheduled(gw, "alice", "daily")
    saved = _rows(gw, SCHEDULE_ROW, i=schedule_id)[0]
    gone = gw.client.delete(f"/api/v1/comparison-models/{MODEL}/schedules/{schedule_id}",
                            headers=gw.headers("alice"))  # fmt: skip
    assert gone.status_code == 200, gone.text
    _update_back(gw, "comparison_schedules", saved)  # the insider's replay, seal and all
    asked = _rebind(gw, monkeypatch, "schedule", schedule_id, "--reason", "crash", "--yes")
    assert asked.exit_code == 1 and "deleted" in asked.output, asked.output
    assert "Traceback" not in asked.output


def test_rebind_shows_every_sealed_field_column(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay of an entry can differ from its current state in a field's mask override
    or type alone: the values the operator checks showed neither."""
    shown = _rebind(deployment, monkeypatch, "entry", DIBAO, "--reason", "check", "--yes")
    assert shown.exit_code == 0, shown.output
    assert '"mask_override"' in shown.output and '"type"' in shown.output, shown.output


def _level(gw: DemoGateway, level: str) -> Any:
    """carl's save of a field's level (sealed: the entry's state changes)."""
    return gw.client.patch(f"/api/v1/datasets/{DIBAO}", headers=gw.headers("carl"),
                           json={"fields": {"household_size": {"level": level}}})  # fmt: skip


def test_a_save_during_the_operators_question_is_never_overwritten(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """carl saves a field's level on the dibao roll while the operator reads the values shown: the
    command refuses to bind what it showed, and the entry keeps serving carl's save."""
    gw = deployment
    saves: list[int] = []

    def operator_reads(*_args: Any, **_kwargs: Any) -> bool:
        saves.append(_level(gw, "L3").status_code)
        return True

    monkeypatch.setattr(click, "confirm", operator_reads)
    try:
        done = _rebind(gw, monkeypatch, "entry", DIBAO, "--reason", "saw a 423")
        assert saves == [200]
        assert done.exit_code != 0 and "since it was shown" in done.output, done.output
        served = gw.query("alice", DIBAO, ID_QUERY)
        assert served.status_code == 200, served.text
        assert _level(gw, "L2").status_code == 200
    finally:
        monkeypatch.undo()


def test_a_source_left_by_a_crash_is_rebound(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source (its row compared on its redacted form at each write) read again under
    its lock and rebound; its entries serve again."""
    gw = deployment
    session = gw.services.sessions()
    source = session.get(Source, "civil-db")
    assert source is not None
    settings = dict(source.settings)
    source.settings = {**settings, "note": "never committed"}
    bind_changed(gw.services.audit, session)
    session.close()
    refused = gw.query("alice", DIBAO, ID_QUERY)
    assert (refused.status_code, refused.json()["code"]) == (423, "source_unsealed")
    done = _rebind(gw, monkeypatch, "source", "civil-db", "--reason", "crash", "--yes")
    assert done.exit_code == 0 and "bound as it is" in done.output, done.output
    assert gw.query("alice", DIBAO, ID_QUERY).status_code == 200


def test_an_unreachable_catalog_is_a_clear_error(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator runs the command where the catalog cannot be reached (the host's
    database down, a wrong URL): one line saying so, no traceback."""
    monkeypatch.setenv("SLUICE_HOME", str(deployment.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL",
                       "postgresql+psycopg://sluice:pw@127.0.0.1:9/nowhere")  # fmt: skip
    asked = CliRunner().invoke(cli, ["catalog", "rebind", "entry", DIBAO, "--reason", "x",
                                     "--yes"])  # fmt: skip
    assert asked.exit_code == 1 and isinstance(asked.exception, SystemExit), asked.exception
    assert "catalog database unavailable" in asked.output and "pw" not in asked.output
