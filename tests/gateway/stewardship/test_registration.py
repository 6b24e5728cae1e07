"""Source registration and entry editing, through the service layer and the HTTP routes,
against real SQLite files, the machine's PostgreSQL and MariaDB."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from adapters.key_models import DataKey
from catalog.errors import Forbidden
from catalog.models import Dataset, Source
from catalog.schemas import DatasetPatch, FieldPatch
from gateway.stewardship import registration
from tests.conftest import MYSQL_HOST
from tests.gateway.registration_env import (
    ANALYST,
    CIVIL,
    FIN,
    Env,
    close_env,
    free_port,
    make_env,
    make_sqlite_source,
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    env = make_env(tmp_path)
    yield env
    close_env(env)


def _sqlite_body(env: Env, source_id: str = "fin-people", department: str = "fin") -> dict:
    path = make_sqlite_source(env.data / f"{source_id}.db")
    return {
        "id": source_id,
        "department": department,
        "kind": "sqlite",
        "display_name": "Finance people",
        "settings": {"url": f"sqlite:///{path}"},
    }


def _count(env: Env, model: type) -> int:
    with env.services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_sqlite_source_register_introspect_draft_classify_publish(env: Env) -> None:
    created = env.call("POST", "/api/v1/sources", FIN, _sqlite_body(env))
    assert created.status_code == 201, created.text
    assert created.json()["redacted"].startswith("sqlite:///")

    listed = env.call("GET", "/api/v1/sources", FIN)
    assert [s["id"] for s in listed.json()] == ["fin-people"]
    assert env.call("GET", "/api/v1/sources", CIVIL).json() == []
    assert env.call("GET", "/api/v1/sources", ANALYST).status_code == 403

    objects = env.call("POST", "/api/v1/sources/fin-people/introspect", FIN).json()
    people = next(o for o in objects if o["name"] == "people")
    proposed = {c["name"]: c["suggestion"]["pi_category"] for c in people["columns"]}
    assert proposed == {
        "id": "none",
        "xm": "name",
        "sfzh": "id_number",
        "phone": "phone",
        "amount": "none",
    }

    draft = env.call(
        "POST",
        "/api/v1/datasets",
        FIN,
        {"source_id": "fin-people", "object_name": "people", "dataset_id": "fin.people"},
    )
    assert draft.status_code == 201, draft.text
    fields = {f["name"]: f for f in draft.json()["fields"]}
    assert fields["sfzh"]["pi_category"] == fields["sfzh"]["suggested_pi_category"] == "id_number"
    assert draft.json()["status"] == "draft"
    assert draft.json()["level"] == "L3"

    patched = env.call(
        "PATCH",
        "/api/v1/datasets/fin.people",
        FIN,
        {
            "title_zh": "人员",
            "allowed_purposes": ["audit"],
            "fields": {"sfzh": {"level": "L4"}, "amount": {"pi_category": "free_text"}},
        },
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    fields = {f["name"]: f for f in body["fields"]}
    # the steward's choice and the original suggestion are both kept
    assert (fields["sfzh"]["level"], fields["sfzh"]["suggested_level"]) == ("L4", "L3")
    assert body["level"] == "L4"
    assert body["schema_version"] == 2

    bad = env.call("PATCH", "/api/v1/datasets/fin.people", FIN, {"fields": {"nope": {}}})
    assert bad.status_code == 400

    published = env.call("POST", "/api/v1/datasets/fin.people/publish", FIN)
    assert published.status_code == 200
    assert published.json()["status"] == "published"


def test_finance_steward_cannot_touch_civil_sources(env: Env) -> None:
    refused = env.call("POST", "/api/v1/sources", FIN, _sqlite_body(env, "civil-reg", "civil"))
    assert refused.status_code == 403
    assert _count(env, Source) == 0
    assert (
        env.call(
            "POST", "/api/v1/sources", CIVIL, _sqlite_body(env, "civil-reg", "civil")
        ).status_code
        == 201
    )
    for method, url, body in [
        ("PATCH", "/api/v1/sources/civil-reg", {"display_name": "mine now"}),
        ("POST", "/api/v1/sources/civil-reg/introspect", None),
        ("POST", "/api/v1/datasets", {"source_id": "civil-reg", "object_name": "people"}),
        ("GET", "/api/v1/sources/civil-reg", None),
    ]:
        assert env.call(method, url, FIN, body).status_code == 403, url
    draft = env.call(
        "POST", "/api/v1/datasets", CIVIL, {"source_id": "civil-reg", "object_name": "people"}
    )
    dataset_id = draft.json()["id"]
    assert (
        env.call("PATCH", f"/api/v1/datasets/{dataset_id}", FIN, {"title_zh": "x"}).status_code
        == 403
    )
    assert env.call("POST", f"/api/v1/datasets/{dataset_id}/publish", FIN).status_code == 403
    assert env.call("POST", f"/api/v1/datasets/{dataset_id}/refresh", FIN).status_code == 403
    # the service layer refuses on its own too (defence in depth)
    with env.services.sessions() as session, pytest.raises(Forbidden):
        registration.update_dataset(
            session=session,
            services=env.services,
            user=FIN,
            dataset_id=dataset_id,
            patch=DatasetPatch(title_zh="x"),
        )


def _pg_table(url: str) -> str:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE payroll (id integer primary key, name text, id_card text, "
            "mobile text, salary numeric(10,2), hired date)"
        )
        conn.execute(
            "INSERT INTO payroll VALUES (1, '张伟', '11010519491231002X', '13800138000', "
            "100.00, '2020-01-01'), (2, '李明', '110101199003074477', '13912345678', "
            "200.00, '2021-02-02')"
        )
    return dsn


def test_postgresql_source_with_secret_and_schema_drift(
    env: Env, pg_url: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    dsn = _pg_table(pg_url)
    secret = f"pw-{uuid.uuid4().hex}"  # trust auth accepts it; it must still never leak
    shown = make_url(pg_url).set(drivername="postgresql").render_as_string()
    body = {
        "id": "fin-payroll",
        "department": "fin",
        "kind": "postgresql",
        "display_name": "Payroll",
        "settings": {"url": shown},
        "secret": secret,
    }
    created = env.call("POST", "/api/v1/sources", FIN, body)
    assert created.status_code == 201, created.text
    assert ":***@" in created.json()["redacted"]
    with env.services.sessions() as session:
        row = session.get(Source, "fin-payroll")
        assert row is not None and row.secret_ciphertext is not None
        assert secret.encode() not in row.secret_ciphertext
    draft = env.call(
        "POST", "/api/v1/datasets", FIN,
        {"source_id": "fin-payroll", "object_name": "payroll", "dataset_id": "fin.payroll",
         "title_en": "Payroll"},
    )  # fmt: skip
    assert draft.status_code == 201, draft.text
    assert draft.json()["schema_version"] == 1
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE payroll ADD COLUMN bank_card text")
        conn.execute("ALTER TABLE payroll DROP COLUMN mobile")
        conn.execute("ALTER TABLE payroll ALTER COLUMN hired TYPE text")
    drift = env.call("POST", "/api/v1/datasets/fin.payroll/refresh", FIN)
    assert drift.status_code == 200, drift.text
    report = drift.json()
    assert report["added"] == ["bank_card"]
    assert report["removed"] == ["mobile"]
    assert [(r["name"], r["new"]) for r in report["retyped"]] == [("hired", "string")]
    assert report["schema_version"] == 2
    with env.services.sessions() as session:
        dataset = session.get(Dataset, "fin.payroll")
        assert dataset is not None
        names = [f.name for f in dataset.fields]
    assert "mobile" not in names and "bank_card" in names
    # nothing changed since: no new version
    again = env.call("POST", "/api/v1/datasets/fin.payroll/refresh", FIN).json()
    assert (again["added"], again["removed"], again["schema_version"]) == ([], [], 2)

    responses = [created.text, draft.text, drift.text]
    responses.append(env.call("GET", "/api/v1/sources/fin-payroll", FIN).text)
    responses.append(env.call("POST", "/api/v1/sources/fin-payroll/introspect", FIN).text)
    out = capsys.readouterr()
    for text in [*responses, caplog.text, out.out, out.err]:
        assert secret not in text


def test_unreachable_or_refusing_sources_are_clear_and_save_nothing(
    env: Env, mysql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    cases = {
        "nobody-listens": ("postgresql", f"postgresql://fin_reader@127.0.0.1:{free_port()}/payroll"),
        "no-such-role": ("postgresql", f"postgresql://no_such_role_{uuid.uuid4().hex[:6]}@127.0.0.1:5432/postgres"),
    }  # fmt: skip
    user = f"fin_reader_{uuid.uuid4().hex[:6]}"
    conn = pymysql.connect(host=MYSQL_HOST, user="root", password="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-password'")
            cur.execute(f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'right-password'")
        database = make_url(mysql_url).database
        cases["wrong-password"] = ("mysql", f"mysql://{user}@{MYSQL_HOST}:3306/{database}")
        for source_id, (kind, url) in cases.items():
            body = {
                "id": source_id,
                "department": "fin",
                "kind": kind,
                "display_name": source_id,
                "settings": {"url": url},
                "secret": secret,
            }
            response = env.call("POST", "/api/v1/sources", FIN, body)
            assert response.status_code in (502, 504), (source_id, response.text)
            assert response.json()["message"], source_id
            assert secret not in response.text
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")
        conn.close()
    assert _count(env, Source) == 0
    assert _count(env, DataKey) == 0
    out = capsys.readouterr()
    assert secret not in out.out + out.err


def test_service_layer_register_and_classify_directly(env: Env) -> None:
    body = _sqlite_body(env)
    with env.services.sessions() as session:
        source = registration.register_source(
            session=session,
            services=env.services,
            user=FIN,
            source_id=body["id"],
            department="fin",
            kind="sqlite",
            display_name="People",
            settings=body["settings"],
        )
        # one service call per unit of work: the audit writer may share this database
        session.commit()
        dataset = registration.create_draft(
            session=session,
            services=env.services,
            user=FIN,
            source_id=source.id,
            object_name="people",
        )
        session.commit()
        registration.update_dataset(
            session=session,
            services=env.services,
            user=FIN,
            dataset_id=dataset.id,
            patch=DatasetPatch(
                region_field="id", fields={"xm": FieldPatch(level="L4", pi_category="name")}
            ),
        )
        session.commit()
    with env.services.sessions() as session:
        stored = session.get(Dataset, dataset.id)
        assert stored is not None
        assert stored.region_field == "id"
        assert {f.name: f.level for f in stored.fields}["xm"] == "L4"
