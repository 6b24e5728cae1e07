"""``sluice policy test|eval|bundle``."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from catalog.db import make_engine, make_session_factory, migrate
from catalog.models import Dataset, Department, Field, Source, User
from gateway.cli.main import cli
from gateway.cli.policy_cmd import evaluate, explain
from gateway.wiring.row_seals import install_row_seals
from policies.authoring import FIXTURES_PATH, load_cases
from policies.bundle import load_policy_set
from policies.decision import UserContext
from policies.inputs import request_input
from policies.pdp import EmbeddedPDP
from policies.rbac import Authorizer
from tests.migrated import copy_migrated_sqlite


def test_policy_test_passes() -> None:
    result = CliRunner().invoke(cli, ["policy", "test"])
    assert result.exit_code == 0, result.output
    assert "decision fixtures (regopy)" in result.output
    assert "decision fixtures (opa)" in result.output
    assert "rego unit tests (OPA engine)" in result.output


def test_policy_test_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    data = json.loads(FIXTURES_PATH.read_text())
    data["cases"][0]["expected"]["allow"] = False
    fixtures = tmp_path / "f.json"
    fixtures.write_text(json.dumps(data))
    result = CliRunner().invoke(cli, ["policy", "test", "--fixtures", str(fixtures)])
    assert result.exit_code == 1
    assert "FAIL analyst_l3_defaults" in result.output


def test_policy_test_fails_on_a_failing_rego_test(tmp_path: Path) -> None:
    rego = tmp_path / "rego"
    shutil.copytree(Path(__file__).parents[2] / "policies" / "rego", rego)
    (rego / "extra_test.rego").write_text(
        "package sluice.extra_test\n\nimport rego.v1\n\ntest_wrong if {\n\t1 == 2\n}\n"
    )
    result = CliRunner().invoke(cli, ["policy", "test", "--rego-dir", str(rego)])
    assert result.exit_code == 1
    assert "FAIL sluice.extra_test.test_wrong" in result.output


def test_policy_bundle_writes_an_opa_bundle(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    result = CliRunner().invoke(cli, ["policy", "bundle", "--out", str(out)])
    assert result.exit_code == 0, result.output
    version = load_policy_set().version
    assert version in result.output
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = tar.extractfile("/.manifest")
        assert manifest is not None
        assert json.loads(manifest.read())["revision"] == version
    assert "/policies/decision.rego" in names
    assert not any(n.endswith("_test.rego") for n in names)


def test_evaluate_and_explain_with_explicit_dicts() -> None:
    case = load_cases()[0]["input"]
    user = UserContext(
        subject="alice",
        department="civil",
        roles=("analyst",),
        clearance="L3",
        jurisdiction=("1101",),
    )
    decision = evaluate(
        EmbeddedPDP(),
        user=user,
        dataset=case["dataset"],
        request=request_input(purpose="subsidy_audit", case_ref="C-1", fields=["id_number"]),
        now="2025-06-01T00:00:00Z",
    )
    text = explain(decision)
    assert decision.allow
    assert "decision: ALLOW" in text
    assert "field id_number: mask (id_number_partial)" in text


def test_policy_eval_reads_the_catalog(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'sluice.db'}"
    copy_migrated_sqlite(home / "sluice.db")  # the migrations once per process
    migrate(url)  # a no-op on the copy, as the gateway's start
    install_row_seals(url, home)  # the home's key, as the CLI will read the row with it
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Department(code="civil", name_zh="民政", name_en="Civil affairs"))
        session.flush()
        session.add(
            User(
                subject="alice",
                display_name="Alice",
                department="civil",
                clearance="L3",
                jurisdiction=["1101"],
                roles=["analyst"],
            )
        )
        session.add(
            Source(
                id="civil_db",
                department="civil",
                kind="sqlite",
                display_name="db",
                settings={},
                redacted="",
            )
        )
        session.flush()
        session.add(
            Dataset(
                id="civil.dibao_recipients",
                department="civil",
                source_id="civil_db",
                object_name="dibao",
                level="L3",
                allowed_purposes=["subsidy_audit"],
                region_field="region_code",
                tags=[],
            )
        )
        session.flush()
        session.add_all(
            [
                Field(
                    dataset_id="civil.dibao_recipients",
                    name="id_number",
                    position=0,
                    level="L3",
                    pi_category="id_number",
                ),
                Field(
                    dataset_id="civil.dibao_recipients",
                    name="region_code",
                    position=1,
                    level="L1",
                    pi_category="none",
                ),
            ]
        )
        session.commit()
    engine.dispose()
    env = {"SLUICE_HOME": str(home), "SLUICE_DATABASE_URL": url, "SLUICE_OPA_URL": ""}
    args = [
        "policy",
        "eval",
        "--user",
        "alice",
        "--dataset",
        "civil.dibao_recipients",
        "--purpose",
        "subsidy_audit",
        "--case-ref",
        "C-9",
        "--filter",
        "id_number:=:tk_ab12",
    ]
    # the row's legacy ``roles`` column governs nothing: the gateway reads sealed casbin
    # lines only, and so does the explanation
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "casbin dataset:query in 'civil': False" in result.output
    assert "decision: ALLOW" not in result.output
    engine = make_engine(url)
    Authorizer(engine).assign(subject="alice", role="analyst", domain="*")
    engine.dispose()
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "decision: ALLOW" in result.output
    assert "field id_number: mask (id_number_partial)" in result.output
    assert "casbin dataset:query in 'civil': True" in result.output
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    body = json.loads(result.stdout)
    assert body["row_filter"] == {"field": "region_code", "prefixes": ["1101"]}
    missing = CliRunner().invoke(
        cli, ["policy", "eval", "--user", "nobody", "--dataset", "x"], env=env
    )
    assert missing.exit_code != 0 and "no such user" in missing.output


def _catalog_with_alice(tmp_path: Path, *, analyst: bool = True) -> tuple[str, dict[str, str]]:
    """A migrated home whose catalog holds alice (sealed; an analyst unless told not) and
    one entry."""
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'sluice.db'}"
    copy_migrated_sqlite(home / "sluice.db")  # the migrations once per process
    migrate(url)  # a no-op on the copy, as the gateway's start
    install_row_seals(url, home)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        session.add(Department(code="civil", name_zh="民政", name_en="Civil affairs"))
        session.flush()
        session.add(User(subject="alice", display_name="Alice", department="civil",
                         clearance="L3", jurisdiction=["1101"], roles=[]))  # fmt: skip
        session.add(Source(id="civil_db", department="civil", kind="sqlite",
                           display_name="db", settings={}, redacted=""))  # fmt: skip
        session.flush()
        session.add(Dataset(id="civil.dibao_recipients", department="civil",
                            source_id="civil_db", object_name="dibao", level="L1",
                            allowed_purposes=["subsidy_audit"], tags=[]))  # fmt: skip
        session.flush()
        session.add(Field(dataset_id="civil.dibao_recipients", name="name", position=0,
                          level="L1", pi_category="none"))  # fmt: skip
        session.commit()
    if analyst:
        Authorizer(engine).assign(subject="alice", role="analyst", domain="*")
    engine.dispose()
    env = {"SLUICE_HOME": str(home), "SLUICE_DATABASE_URL": url, "SLUICE_OPA_URL": ""}
    return url, env


_EVAL = ["policy", "eval", "--user", "alice", "--dataset", "civil.dibao_recipients",
         "--purpose", "subsidy_audit", "--case-ref", "C-9"]  # fmt: skip


def test_policy_eval_does_not_explain_an_insiders_role_column(tmp_path: Path) -> None:
    """An insider writes ``users.roles`` (the legacy column) for alice, who holds no role:
    the explanation must not show the decision of an analyst, since the gateway reads
    sealed casbin lines only."""
    url, env = _catalog_with_alice(tmp_path, analyst=False)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("""UPDATE users SET roles = '["analyst"]'"""))
    engine.dispose()
    result = CliRunner().invoke(cli, [*_EVAL, "--json"], env=env)
    body = json.loads(result.stdout)
    assert body["casbin"] is False
    assert body["allow"] is False, body
    assert "decision: ALLOW" not in CliRunner().invoke(cli, _EVAL, env=env).output


def test_policy_eval_refuses_to_explain_a_tampered_account(tmp_path: Path) -> None:
    """An insider raises alice's clearance behind the gateway: the gateway refuses her
    account (403 account_unsealed); the explanation says so instead of a decision at L4."""
    url, env = _catalog_with_alice(tmp_path)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET clearance = 'L4' WHERE subject = 'alice'"))
    engine.dispose()
    result = CliRunner().invoke(cli, _EVAL, env=env)
    assert result.exit_code != 0
    assert "account_unsealed" in result.output
    assert "decision:" not in result.output


def test_policy_eval_says_a_disabled_account_is_refused(tmp_path: Path) -> None:
    url, env = _catalog_with_alice(tmp_path)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        user = session.get(User, "alice")
        assert user is not None
        user.status = "disabled"
        session.commit()
    engine.dispose()
    result = CliRunner().invoke(cli, _EVAL, env=env)
    assert result.exit_code == 0, result.output
    assert "account: disabled: the gateway refuses every request (403)" in result.output


def test_policy_eval_refuses_to_explain_a_tampered_entry(tmp_path: Path) -> None:
    """An insider declassifies the entry's field behind the gateway: the gateway refuses
    the entry (423 entry_unsealed); the explanation says so instead of a decision over
    the insider's classification."""
    url, env = _catalog_with_alice(tmp_path)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE fields SET level = 'L4', pi_category = 'id_number'"))
    engine.dispose()
    result = CliRunner().invoke(cli, _EVAL, env=env)
    assert result.exit_code != 0
    assert "entry_unsealed" in result.output
    assert "decision:" not in result.output
