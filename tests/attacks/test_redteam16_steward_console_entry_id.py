"""Red team 16, as a steward: an entry or source id the API refuses, made through the
console or the CLI.

Rule: an entry's id is lower-case letters, digits, ``.``, ``_`` and ``-`` (at most 64),
so every route can name it (``/api/v1/datasets/{id}/…``: a path parameter holds no
``/``) and no two ids differ only in case (``POST /api/v1/datasets`` refuses
any other with a 400 before anything is read).

Attack: the console's draft form (``POST /console/sources/{id}/draft``) handed its
``dataset_id`` to the registration as typed. carl drafted civil's own table under
``civil.dibao/x`` — an entry no API route can name, so an officer's
``POST /api/v1/datasets/{id}/freeze`` answers 404, as red team 10's ``ev/il`` account
was beyond every API suspension — and under ``Civil.Dibao_Recipients``, an entry the
catalog lists beside ``civil.dibao_recipients`` differing in case only.

``sluice datasets create --as carl civil-db dibao_recipients --id …`` and ``sluice
sources add --as carl …`` (an operator acting as a steward, as the API's rules apply)
took any id alike; the console checked a source's id itself, the CLI did not.

Expected: every door holds the API's rule (the console: 400, on record; the CLI: an
error), nothing made.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from click.testing import CliRunner

from audit.search import EventFilter, list_events
from catalog.models import Dataset, Source
from gateway.cli.main import cli
from tests.attacks.console_sign_in import console_sign_in
from tests.gateway.demo_app import DemoGateway

IDS = ["civil.dibao/x", "Civil.Dibao_Recipients", "civil.dibao x", "civil." + "x" * 80]


@pytest.mark.parametrize("entry_id", IDS)
def test_the_console_draft_holds_the_apis_entry_id_rule(
    deployment: DemoGateway, entry_id: str
) -> None:
    gw = deployment
    draft = {"source_id": "civil-db", "object_name": "dibao_recipients", "dataset_id": entry_id}
    api = gw.client.post("/api/v1/datasets", headers=gw.headers("carl"), json=draft)
    assert api.status_code == 400, api.text[:300]  # the API's rule
    client, csrf = console_sign_in(gw, "carl")
    made = client.post("/console/sources/civil-db/draft", data={
        "csrf_token": csrf, "object_name": "dibao_recipients", "dataset_id": entry_id,
        "title_zh": "副本"})  # fmt: skip
    with gw.services.sessions() as session:
        stored = session.get(Dataset, entry_id)
    assert stored is None, f"{entry_id!r} was made ({made.status_code})"
    assert made.status_code == 400, made.text[:300]
    page = list_events(store=gw.services.audit.store,
                       filters=EventFilter(type="request.refused"), limit=1,
                       order="desc")  # fmt: skip
    event = page["items"][0]
    assert event["actor"]["sub"] == "carl" and event["details"]["console"] is True


@pytest.mark.parametrize("entry_id", IDS[:2])
def test_the_cli_holds_the_apis_id_rules(
    deployment: DemoGateway, monkeypatch: pytest.MonkeyPatch, entry_id: str
) -> None:
    gw = deployment
    monkeypatch.setenv("SLUICE_HOME", str(gw.settings.home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", gw.settings.resolved_database_url)
    drafted = CliRunner().invoke(cli, ["datasets", "create", "--as", "carl", "civil-db",
                                       "dibao_recipients", "--id", entry_id])  # fmt: skip
    with gw.services.sessions() as session:
        assert session.get(Dataset, entry_id) is None, drafted.output
    assert drafted.exit_code != 0
    path = gw.settings.demo_data_dir / f"red16-{len(entry_id)}.db"
    with closing(sqlite3.connect(path)) as db:  # a file of civil's own, under the roots
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        db.commit()
    source_id = entry_id.replace(".", "-")
    add = ["sources", "add", "--as", "carl", source_id, "--kind", "sqlite", "--name", "copy"]
    added = CliRunner().invoke(cli, [*add, "--url", f"sqlite:///{path}"])
    with gw.services.sessions() as session:
        assert session.get(Source, source_id) is None, added.output
    assert added.exit_code != 0
