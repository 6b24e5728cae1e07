"""``docs/deploy.md`` tried as written: its SQL and migration build the deployment these
tests run on (``tests/ops/guide.py``), the runtime role it makes cannot touch the audit
trail's protection, its settings file is valid, every setting and command it names
exists, and a gateway started as it says (production, runtime role, OIDC, Redis,
``--workers 2``) serves governed queries on a trail that verifies.
"""

from __future__ import annotations

import re
import shlex

import click
import orjson
import psycopg
import pytest
from psycopg import errors

from gateway.cli.main import cli
from gateway.core.settings import Settings
from tests import live_http
from tests.ops.deployment import DIBAO, QUERY, Deployment
from tests.ops.guide import ROOT, code_blocks, env_file, guide_text, inline_code
from tests.ops.processes import serve, sluice

pytestmark = pytest.mark.xdist_group("ops-guide")  # one deployment per module, one worker

# what the runtime role must be refused, and why the guide says it is
REFUSED = {
    "UPDATE audit_events SET outcome = 'ok'": "no UPDATE privilege",
    "DELETE FROM audit_checkpoints": "no DELETE privilege",
    "TRUNCATE audit_keys": "no TRUNCATE privilege",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only": "not the owner",
    "DROP TRIGGER audit_events_no_truncate ON audit_events": "not the owner",
    "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql "
    "AS $$ BEGIN RETURN OLD; END $$": "no CREATE on the schema",
    "SET session_replication_role = replica": "not a superuser",
    "CREATE TEMP TABLE audit_events (seq bigint)": "no TEMPORARY on the database",
    "CREATE TABLE shadow (x int)": "no CREATE on the schema",
    "UPDATE alembic_version SET version_num = version_num": "reads the schema version only",
}


@pytest.mark.parametrize("statement", sorted(REFUSED))
def test_the_runtime_role_is_refused(guided: Deployment, statement: str) -> None:
    with psycopg.connect(guided.db.libpq(guided.db.app)) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()


def test_the_runtime_role_reads_and_appends_the_trail(guided: Deployment) -> None:
    with psycopg.connect(guided.db.libpq(guided.db.app)) as conn:
        conn.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        conn.execute("INSERT INTO audit_keys VALUES ('ed25519-test', 'Ed25519', 'x', 'now')")
        conn.rollback()


def test_the_owner_can_switch_triggers_off_so_it_stays_off_gateway_hosts(
    guided: Deployment,
) -> None:
    with psycopg.connect(guided.db.libpq(guided.db.owner)) as conn:
        conn.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        conn.rollback()


def test_the_settings_file_is_valid_for_production(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = env_file()
    for key in [k for k in pairs if k not in Settings.model_fields]:
        monkeypatch.delenv(key, raising=False)
    for key, value in pairs.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.env == "production" and not settings.demo
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")


def test_every_setting_named_exists() -> None:
    named = set(re.findall(r"\bSLUICE_([A-Z0-9_]*[A-Z0-9])\b", guide_text()))
    unknown = sorted(n for n in named if n.lower() not in Settings.model_fields
                     and not n.endswith("ALERT"))  # "SLUICE_ALERT_*" names a family  # fmt: skip
    assert unknown == []


def _sluice_lines() -> list[list[str]]:
    """Every ``sluice …`` invocation in the guide (code blocks and inline code), as the
    words after ``sluice`` up to a shell operator."""
    texts = [line for body in code_blocks() for line in body.replace("\\\n", " ").splitlines()]
    found = []
    for text in [*texts, *inline_code()]:
        match = re.search(r"(?:^|[\s/])sluice\s+([a-z][a-z-]*(?:\s.*)?)$", text.strip())
        if match and not text.lstrip().startswith("#"):
            words = shlex.split(match.group(1), comments=True)
            cut = [i for i, w in enumerate(words) if w in {"|", "&&", ";", ">"}]
            found.append(words[: cut[0]] if cut else words)
    return found


def test_every_command_named_exists() -> None:
    lines = _sluice_lines()
    assert len(lines) >= 5, lines
    context = click.Context(cli)
    for argv in lines:
        command: click.Command = cli
        words = list(argv)
        while isinstance(command, click.Group) and words and not words[0].startswith("-"):
            sub = command.get_command(context, words.pop(0))
            assert sub is not None, f"sluice {' '.join(argv)}: no such command"
            command = sub
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in options, f"sluice {' '.join(argv)}: no {word}"
    named = {" ".join(a[:3]) for a in lines}
    for needed in (
        "serve --host",
        "doctor",
        "keys rotate",
        "keys status",
        "audit verify",
        "audit keys rotate",
        "users add",
    ):
        assert any(n.startswith(needed) for n in named), (needed, sorted(named))


def test_the_readme_links_the_guide() -> None:
    assert "(docs/deploy.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_a_gateway_started_as_the_guide_says_serves_and_records(
    guided: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``sluice serve --workers 2`` as the runtime role, production settings, OIDC and
    Redis: queries are governed and recorded, ``sluice audit verify`` (the CLI on the
    same host and role) finds the chain intact, and SIGINT stops it cleanly."""
    directory = tmp_path_factory.mktemp("served")
    home = guided.new_home(directory / "home")
    settings = guided.settings(home, SLUICE_REDIS_URL="redis://127.0.0.1:6379/0",
                               SLUICE_GATEWAY_ID="guide-a")  # fmt: skip
    served = serve("guide-a", settings, directory, workers=2)
    try:
        served.wait_ready()
        for _ in range(4):  # over both workers, by the kernel's choice
            resp = live_http.post(f"{served.base}/api/v1/datasets/{DIBAO}/query", json=QUERY,
                              headers=guided.idp.headers("alice"), timeout=30)  # fmt: skip
            assert resp.status_code == 200, resp.text
            rows = orjson.loads(resp.content)["rows"]
            assert rows and all(r["name"].endswith("*") for r in rows)  # masked
            assert all(r["region_code"].startswith("430121") for r in rows)  # her county
        refused = live_http.post(f"{served.base}/api/v1/datasets/{DIBAO}/query", json=QUERY,
                             headers=guided.idp.headers("sam"), timeout=30)  # fmt: skip
        assert refused.status_code == 403
    finally:
        served.stop()
    out = served.output()
    assert "Sluice gateway listening on" in out and "(2 workers)" in out
    assert "Sluice gateway stopped" in out
    assert guided.db.app in out  # the runtime role
    verified = sluice("audit", "verify", settings=settings)
    assert verified.returncode == 0, verified.stderr[-2000:]
    assert orjson.loads(verified.stdout.strip().splitlines()[-1])["ok"] is True
