"""``sluice doctor`` against a deployment built by the guide: the good one passes, and
each fault planted in it fails the check that names it, with what to fix.

The doctor runs in process (``CliRunner``) with exactly the environment given; every
fault is undone before the next test, so each test starts from the good deployment.
"""

from __future__ import annotations

import base64
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import psycopg
import pytest
from click.testing import CliRunner, Result

from adapters.credentials import build_keyring
from catalog.db import make_engine, make_session_factory
from gateway.cli.doctor import database
from gateway.cli.doctor.config import load_context
from gateway.cli.doctor.report import Status
from gateway.cli.doctor_cmd import doctor
from gateway.core.listening import LISTEN_NAME, record_listening
from gateway.core.settings import Settings, load_settings
from tests.ops.deployment import Deployment

pytestmark = pytest.mark.xdist_group("ops-doctor")  # one deployment per module, one worker

NATS = "nats://127.0.0.1:4222"


@pytest.fixture(scope="module")
def settings(guided: Deployment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A replica's production settings as the guide writes them, Redis and a NATS
    witness included (a stream of this test's own, which the doctor never creates)."""
    home = guided.new_home(tmp_path_factory.mktemp("doctor") / "home")
    guided.serve_once(home)
    return guided.settings(
        home,
        SLUICE_REDIS_URL="redis://127.0.0.1:6379/0",
        SLUICE_WITNESSES=f"{NATS}/doctor_{uuid.uuid4().hex[:8]}",
        SLUICE_TRUSTED_PROXIES="127.0.0.1",
        SLUICE_PUBLIC_URL="https://sluice.example.gov/",
        SLUICE_GATEWAY_ID="doctor-a",
        SLUICE_METRICS_TOKEN="m" * 40,
    )


def run(settings: dict[str, str], **changes: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(settings)
    env.update(changes)
    return CliRunner().invoke(doctor, ["--timeout", "2"], env=env)


def failures(result: Result) -> list[str]:
    return [line for line in result.output.splitlines() if line.lstrip().startswith("FAIL")]


def test_the_guides_deployment_passes(settings: dict[str, str]) -> None:
    result = run(settings)
    assert result.exit_code == 0, result.output
    assert failures(result) == []
    for check in ("runtime role", "audit triggers", "key files", "clock", "redis", "witness"):
        assert any(line.split()[:1] == ["ok"] and check in line
                   for line in result.output.splitlines()), (check, result.output)  # fmt: skip
    assert settings["SLUICE_MASTER_KEY"] not in result.output


def test_a_world_readable_key_fails(settings: dict[str, str]) -> None:
    key = Path(settings["SLUICE_HOME"]) / "keys" / "mask.secret"
    key.chmod(0o644)
    try:
        result = run(settings)
    finally:
        key.chmod(0o600)
    assert result.exit_code == 1
    (line,) = failures(result)
    assert "key files" in line and f"{key} is readable by other users (mode 0644)" in line
    assert f"fix: chmod 600 {key}" in result.output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TRIGGER_FAULTS = {
    "dropped": (
        "DROP TRIGGER audit_events_append_only ON audit_events",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        ["trigger audit_events_append_only on audit_events is missing"],
    ),
    "disabled": (
        "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_no_truncate",
        "ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_no_truncate",
        ["trigger audit_checkpoints_no_truncate on audit_checkpoints is disabled (D)"],
    ),
    "swallowing": (
        "CREATE FUNCTION swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; "
        "END $$; CREATE TRIGGER audit_events_swallow BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION swallow()",
        "DROP TRIGGER audit_events_swallow ON audit_events; DROP FUNCTION swallow()",
        [
            "unexpected trigger audit_events_swallow on audit_events: it could drop or change "
            "events as they are written"
        ],
    ),
    "neutered": (
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN OLD; END $$",
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only (% on %)', "
        "TG_OP, TG_TABLE_NAME; END $$",
        [
            f"trigger {t}_{s} on {t} calls a function that does not refuse the change"
            for t in database.AUDIT_TABLES
            for s in ("append_only", "no_truncate")
        ],
    ),
}


@pytest.fixture
def as_owner(guided: Deployment) -> Iterator[psycopg.Connection]:
    """The owner role, which alone can touch the triggers (an insider with its password)."""
    with psycopg.connect(guided.db.libpq(guided.db.owner), autocommit=True) as conn:
        yield conn


@pytest.mark.parametrize("fault", sorted(TRIGGER_FAULTS))
def test_a_tampered_audit_trigger_fails(
    fault: str, settings: dict[str, str], as_owner: psycopg.Connection
) -> None:
    plant, undo, expected = TRIGGER_FAULTS[fault]
    as_owner.execute(plant)
    try:
        result = run(settings)
    finally:
        as_owner.execute(undo)
    assert result.exit_code == 1
    found = failures(result)
    assert [line.split("audit triggers", 1)[1].strip() for line in found] == expected, found
    assert "re-create them as the owner role" in result.output
    assert run(settings).exit_code == 0  # undone


def test_an_unreachable_witness_fails(settings: dict[str, str]) -> None:
    url = f"https://127.0.0.1:{closed_port()}"
    result = run(settings, SLUICE_WITNESSES=f"{settings['SLUICE_WITNESSES']},{url}")
    assert result.exit_code == 1
    (line,) = failures(result)
    assert f"witness {url}: unreachable (ConnectError)" in " ".join(line.split())
    assert "start the witness or correct SLUICE_WITNESSES" in result.output


def test_a_placeholder_master_key_in_production_fails(settings: dict[str, str]) -> None:
    result = run(settings, SLUICE_MASTER_KEY="change-me")
    assert result.exit_code == 1
    found = [" ".join(line.split()) for line in failures(result)]
    assert found == ["FAIL settings SLUICE_MASTER_KEY is a placeholder; set a real key",
                     "FAIL master key SLUICE_MASTER_KEY is a placeholder (refused)"]  # fmt: skip
    assert "openssl rand -base64 32" in result.output
    # the other checks still ran, with the key left out
    assert "ok    runtime role" in result.output


def test_the_owner_role_is_refused_as_the_gateways(
    settings: dict[str, str], guided: Deployment
) -> None:
    result = run(settings, SLUICE_DATABASE_URL=guided.db.owner_url)
    assert result.exit_code == 1
    found = " ".join(" ".join(failures(result)).split())
    assert f"{guided.db.owner}: owns" in found and "audit_events" in found
    assert "was allowed to UPDATE audit_events" in found  # tried, and rolled back
    assert "connect as the runtime role made by roles.sql and grants.sql" in result.output


def test_sqlite_in_production_fails(settings: dict[str, str], tmp_path: Path) -> None:
    result = run(settings, SLUICE_DATABASE_URL=f"sqlite:///{tmp_path / 'sluice.db'}")
    assert result.exit_code == 1
    assert "is SQLite: one host, and no database role" in result.output


def test_a_missing_master_key_fails(
    settings: dict[str, str], guided: Deployment, tmp_path: Path
) -> None:
    """A data key wrapped by a master key this host lacks: a rotation on another replica
    whose key file was never copied here."""
    other = load_settings(home=tmp_path, master_key="b" * 43 + "=")
    result, kid = _doctor_with_a_data_key(settings, guided, other)
    assert result.exit_code == 1
    (line,) = failures(result)
    assert "master keys" in line and f"not on this host: {kid}" in line


def test_data_keys_in_home_key_files_beside_the_env_key_fail(
    settings: dict[str, str], guided: Deployment
) -> None:
    """A data key wrapped by a key file in SLUICE_HOME although SLUICE_MASTER_KEY is set
    (what `sluice keys rotate` once left): the home and a dump open it (red team 56)."""
    home = load_settings(home=Path(settings["SLUICE_HOME"]), master_key=None)
    masters = Path(settings["SLUICE_HOME"]) / "keys" / "master"
    try:
        result, kid = _doctor_with_a_data_key(settings, guided, home)  # a new key file
    finally:
        for made in masters.iterdir():
            made.unlink()
    assert result.exit_code == 1
    (line,) = failures(result)
    assert "master keys" in line and f"key files in SLUICE_HOME ({kid})" in line


def _doctor_with_a_data_key(
    settings: dict[str, str], guided: Deployment, keys: Settings
) -> tuple[Result, str]:
    """The doctor's result while the catalog holds a data key wrapped by ``keys``'s
    current master key (the key removed after), and that key's id."""
    engine = make_engine(guided.db.app_url)
    keyring = build_keyring(keys, make_session_factory(engine))
    _, key_id = keyring.encrypt("a source password")
    try:
        return run(settings), keyring.current_master_kid
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM data_keys WHERE id = %s", (key_id,))
        engine.dispose()


def test_a_retired_master_key_left_in_the_settings_fails(
    settings: dict[str, str], guided: Deployment
) -> None:
    """SLUICE_MASTER_KEY_PREVIOUS still set once no data key is wrapped by it: the key a
    rotation retired stays in the environment (red team 57)."""
    retired = base64.b64encode(b"r" * 32).decode()
    result = run(settings, SLUICE_MASTER_KEY_PREVIOUS=retired)
    assert result.exit_code == 1
    (line,) = failures(result)
    assert "master keys" in line and "SLUICE_MASTER_KEY_PREVIOUS" in line and retired not in line


def test_a_retired_key_file_left_in_the_home_beside_the_env_key_fails(
    settings: dict[str, str],
) -> None:
    """A master key file in SLUICE_HOME that wraps no data key any more, beside
    SLUICE_MASTER_KEY: what `sluice keys rotate` leaves after re-wrapping a deployment's
    home key files under the env key (red team 56's upgrade), the files the rotation
    said to delete. Still there, a copy of the home and a catalog backup taken before
    the rotation open every source secret of the backup; the doctor said 'ok master
    keys' (red team 58, as it now fails SLUICE_MASTER_KEY_PREVIOUS left set, red team
    57)."""
    masters = Path(settings["SLUICE_HOME"]) / "keys" / "master"
    masters.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = base64.b64encode(b"k" * 32).decode()
    retired = masters / "mk-0123456789abcdef.key"
    retired.write_text(key + "\n")
    retired.chmod(0o600)
    try:
        result = run(settings)
    finally:
        retired.unlink()
    assert result.exit_code == 1, result.output
    (line,) = failures(result)
    assert "master keys" in line and "mk-0123456789abcdef" in line and key not in line


def test_a_chain_behind_the_witness_file_fails(settings: dict[str, str]) -> None:
    """What a database restored from an older backup looks like to a replica."""
    witness = Path(settings["SLUICE_HOME"]) / "audit-witness.jsonl"
    kept = witness.read_bytes()
    newest = orjson.loads(kept.splitlines()[-1])
    later = {**newest, "seq": int(newest["seq"]) + 1000}
    witness.write_bytes(kept + orjson.dumps(later) + b"\n")
    try:
        result = run(settings)
    finally:
        witness.write_bytes(kept)
    assert result.exit_code == 1
    (line,) = failures(result)
    assert f"event {later['seq']} is missing, but this host witnessed it" in line
    assert "Restoring a backup" in result.output


def test_unreachable_redis_fails(settings: dict[str, str]) -> None:
    result = run(settings, SLUICE_REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    assert result.exit_code == 1
    (line,) = failures(result)
    assert "redis" in line and "unreachable (ConnectionError)" in line


def test_a_skewed_clock_fails(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock is a collaborator of the checks: a host 30 s fast, without touching the
    machine's clock."""
    for key in [k for k in os.environ if k.startswith("SLUICE_")]:
        monkeypatch.delenv(key)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    ctx = load_context(max_skew_s=2.0)
    ctx.clock = lambda: time.time() + 30
    try:
        (result,) = database.check_clock(ctx)
    finally:
        ctx.close()
    assert result.status is Status.FAIL
    assert "this host is +30" in result.detail and "NTP" in result.fix


def test_a_proxy_without_a_public_url_fails(settings: dict[str, str]) -> None:
    """Behind a proxy the links the gateway publishes (DCAT, the OIDC redirect URI) would
    name the replica's own address: never the client's Host (red team 29), so say so."""
    result = run(settings, SLUICE_PUBLIC_URL="")
    assert result.exit_code == 1
    assert any("public URL" in line and "SLUICE_PUBLIC_URL" in line for line in failures(result))


def test_listening_beyond_loopback_without_a_name_fails(settings: dict[str, str]) -> None:
    """``sluice serve --host 0.0.0.0`` (recorded in the home at its start) with neither
    SLUICE_PUBLIC_URL nor SLUICE_ALLOWED_HOSTS: users reaching it by name are refused by
    the Host allow-list (the thirty-fourth pass), so say so."""
    home = Path(settings["SLUICE_HOME"])
    bare = {"SLUICE_PUBLIC_URL": "", "SLUICE_TRUSTED_PROXIES": ""}
    record_listening(home, "0.0.0.0", 8000)
    try:
        result = run(settings, **bare)
        assert any("allowed hosts" in line and "0.0.0.0" in line for line in failures(result))
        assert "SLUICE_ALLOWED_HOSTS" in result.output
        named = run(settings, **bare, SLUICE_ALLOWED_HOSTS="gw.internal")
        assert not any("allowed hosts" in line for line in failures(named)), named.output
        assert any(line.split()[:1] == ["ok"] and "gw.internal" in line
                   for line in named.output.splitlines()), named.output  # fmt: skip
        record_listening(home, "127.0.0.1", 8000)
        local = run(settings, **bare)
        assert not any("allowed hosts" in line for line in failures(local)), local.output
    finally:
        (home / LISTEN_NAME).unlink(missing_ok=True)
