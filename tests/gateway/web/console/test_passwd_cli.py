"""``sluice users passwd``: the password comes from a prompt or standard input, never
an argument; it is stored as an argon2id hash, on record, and clears a lockout; and
``sluice demo``'s passwords are set the same way and returned once for printing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from audit.search import EventFilter, list_events
from catalog.db import make_engine
from gateway.cli.main import cli
from gateway.core.settings import load_settings
from gateway.web.console.passwords import LocalAccounts
from gateway.web.console.sessions import console_key
from gateway.web.console.store import local_passwords


def test_passwd_from_stdin_and_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(home))
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "nina", "--name", "Nina"]).exit_code == 0
    # no password argument exists at all
    assert runner.invoke(cli, ["users", "passwd", "nina", "secret-on-argv"]).exit_code == 2
    short = runner.invoke(cli, ["users", "passwd", "nina", "--stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    unknown = runner.invoke(cli, ["users", "passwd", "nobody", "--stdin"],
                            input="long-enough-password\n")  # fmt: skip
    assert unknown.exit_code == 1 and "no user" in unknown.output
    ok = runner.invoke(cli, ["users", "passwd", "nina", "--stdin"],
                       input="nina-first-password\n")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    prompted = runner.invoke(cli, ["users", "passwd", "nina"],
                             input="nina-second-password\nnina-second-password\n")  # fmt: skip
    assert prompted.exit_code == 0, prompted.output
    assert "nina-second-password" not in prompted.output

    engine = make_engine(load_settings(home=home).resolved_database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(local_passwords).where(
                local_passwords.c.subject == "nina")).one()  # fmt: skip
        assert row.password_hash.startswith("$argon2id$") and row.set_by.startswith("cli:")
        key = console_key(home)
        accounts = LocalAccounts(engine=engine, key=key, max_failures=2)
        assert accounts.check(subject="nina", password="nina-first-password").outcome != "ok"
        assert accounts.check(subject="nina", password="nina-first-password").outcome == "locked"
    finally:
        engine.dispose()
    # an admin's new password clears the lock
    again = runner.invoke(cli, ["users", "passwd", "nina", "--stdin"],
                          input="nina-third-password\n")  # fmt: skip
    assert again.exit_code == 0
    engine = make_engine(load_settings(home=home).resolved_database_url)
    try:
        accounts = LocalAccounts(engine=engine, key=console_key(home))
        assert accounts.check(subject="nina", password="nina-third-password").outcome == "ok"
    finally:
        engine.dispose()


def test_passwd_is_on_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.wiring.container import build_services

    home = tmp_path / "home"
    monkeypatch.setenv("SLUICE_HOME", str(home))
    runner = CliRunner()
    assert runner.invoke(cli, ["users", "add", "omar", "--name", "Omar"]).exit_code == 0
    assert runner.invoke(cli, ["users", "passwd", "omar", "--stdin"],
                         input="omar-long-password\n").exit_code == 0  # fmt: skip
    services = build_services(load_settings(home=home))
    try:
        events = list_events(
            store=services.audit.store,  # type: ignore[attr-defined]
            filters=EventFilter(type="user.updated"),
            limit=20,
        )["items"]
    finally:
        services.close()
    sets = [e["details"] for e in events
            if e["resource"] == "user:omar" and e["details"].get("password") == "set"]  # fmt: skip
    # the row's digest binds the row to the trail (red team 5); the hash is not there
    assert sets and sets[0].keys() == {"password", "digest"}
    assert len(sets[0]["digest"]) == 64 and "$argon2" not in str(events)
    assert not any("omar-long-password" in str(e) for e in events)
