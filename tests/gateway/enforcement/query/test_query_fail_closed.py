"""No audit record, no data: a stalled or locked audit store fails the query with 503."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import psycopg

from tests.conftest import drop_pg_database
from tests.gateway.demo_app import demo_gateway
from tests.migrated import create_migrated_pg_database

DIBAO = "civil.dibao_recipients"
CASE = {"purpose": "supervision", "case_ref": "JW-2026-001", "fields": ["region_code"]}


def test_locked_sqlite_audit_store_fails_the_query_with_503(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "home", audit_append_timeout_s=0.5) as gw:
        assert gw.query("arthur", DIBAO, CASE).status_code == 200
        db = sqlite3.connect(gw.settings.home / "sluice.db", isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")  # an insider or a stuck process holds the writer
        try:
            resp = gw.query("arthur", DIBAO, CASE)
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "unavailable"
        assert b"430" not in resp.content  # no row left
        assert gw.query("arthur", DIBAO, CASE).status_code == 200  # recovers


def test_locked_postgres_audit_table_fails_the_query_with_503(tmp_path: Path) -> None:
    name, url = create_migrated_pg_database("sluice_cat")
    try:
        with demo_gateway(tmp_path / "home", database_url=url, audit_append_timeout_s=0.5) as gw:
            assert gw.query("arthur", DIBAO, CASE).status_code == 200
            plain = url.replace("postgresql+psycopg://", "postgresql://")
            locked = threading.Event()
            release = threading.Event()

            def hold_lock() -> None:
                with psycopg.connect(plain) as conn:
                    conn.execute("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
                    locked.set()
                    release.wait(10)

            holder = threading.Thread(target=hold_lock)
            holder.start()
            assert locked.wait(10)
            try:
                resp = gw.query("arthur", DIBAO, CASE)
            finally:
                release.set()
                holder.join()
            assert resp.status_code == 503, resp.text
            assert b"430" not in resp.content
    finally:
        drop_pg_database(name)


def test_catalog_database_down_is_a_503_not_a_500(tmp_path: Path) -> None:
    name, url = create_migrated_pg_database("sluice_gone")
    try:
        with demo_gateway(tmp_path / "home", database_url=url) as gw:
            headers = gw.headers("arthur")
            assert (
                gw.client.post(
                    f"/api/v1/datasets/{DIBAO}/query", json=CASE, headers=headers
                ).status_code
                == 200
            )
            drop_pg_database(name)  # the catalog (and audit) database goes away
            resp = gw.client.post(f"/api/v1/datasets/{DIBAO}/query", json=CASE, headers=headers)
            assert resp.status_code == 503, resp.text
            assert resp.json()["code"] == "unavailable"
            assert "127.0.0.1" not in resp.text and name not in resp.text
    finally:
        drop_pg_database(name)


def test_a_table_dropped_at_the_source_is_409_schema_changed(tmp_path: Path) -> None:
    with demo_gateway(tmp_path / "home") as gw:
        assert (
            gw.query(
                "arthur", "audit.audit_findings", CASE | {"fields": ["region_code"]}
            ).status_code
            == 200
        )
        db = sqlite3.connect(gw.settings.demo_data_dir / "audit.db")
        db.execute("DROP TABLE audit_findings")
        db.commit()
        db.close()
        resp = gw.query("arthur", "audit.audit_findings", CASE | {"fields": ["region_code"]})
        assert resp.status_code == 409, resp.text
        assert resp.json()["code"] == "schema_changed"
        assert "refresh" in resp.json()["message"]


def test_a_comparison_with_a_locked_audit_store_sends_nothing(tmp_path: Path) -> None:
    body = {
        "left": {"dataset": "finance.payroll", "key": "id_number", "fields": ["employer"]},
        "right": {"dataset": DIBAO, "key": "id_number", "fields": ["region_code"]},
        "purpose": "supervision", "case_ref": "JW-2026-001",
    }  # fmt: skip
    with demo_gateway(tmp_path / "home", audit_append_timeout_s=0.5) as gw:
        headers = gw.headers("dora")
        assert gw.client.post("/api/v1/comparisons", json=body, headers=headers).status_code == 200
        db = sqlite3.connect(gw.settings.home / "sluice.db", isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        try:
            resp = gw.client.post("/api/v1/comparisons", json=body, headers=headers)
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert resp.status_code == 503, resp.text
        assert b"tk_" not in resp.content and b"430" not in resp.content
