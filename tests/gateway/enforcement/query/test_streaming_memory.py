"""Streaming 1,000,000 rows as CSV and as Arrow runs in bounded memory.

The gateway runs as a real server process (``sluice serve``) over a 1,000,000-row
PostgreSQL table with two masked columns; the client streams the response and the
test samples the server's RSS (psutil) while it does. Measured by memory, not time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from catalog.models import Dataset, Field
from tests import live_http
from tests.conftest import create_pg_database, drop_pg_database
from tests.gateway.demo_app import demo_gateway

ROWS = 1_000_000
LIMIT_MB = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_big_table(url: str) -> None:
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE big_rows AS SELECT g AS id, "
            "'430121' || (19700101 + mod(g, 300))::text || lpad(mod(g, 9999)::text, 4, '0')"
            " AS id_number, '13' || lpad(mod(g, 1000000000)::text, 9, '0') AS phone, "
            "(ARRAY['430121','430102','430181'])[1 + mod(g, 3)] AS region_code, "
            f"mod(g, 5000)::float8 / 7 AS amount FROM generate_series(1, {ROWS}) AS g"
        )


def _register(gw, table_url: str) -> None:
    with gw.services.sessions() as session:
        ds = Dataset(
            id="civil.big_rows",
            department="civil",
            source_id="civil-db",
            object_name="big_rows",
            title_zh="大表",
            title_en="Big table",
            level="L2",
            allowed_purposes=["supervision"],
            region_field="region_code",
            tags=[],
            status="published",
            schema_version=1,
        )
        specs = [
            ("id", "int64", "L1", "none"),
            ("id_number", "string", "L2", "id_number"),
            ("phone", "string", "L2", "phone"),
            ("region_code", "string", "L1", "none"),
            ("amount", "float64", "L1", "none"),
        ]
        ds.fields = [
            Field(name=n, type=t, level=lv, pi_category=pi, position=i)
            for i, (n, t, lv, pi) in enumerate(specs)
        ]
        session.add(ds)
        session.commit()
    gw.point_sources_at("postgresql", table_url)


@pytest.mark.slow
def test_streaming_a_million_rows_as_csv_and_arrow_is_bounded(tmp_path: Path) -> None:
    name, url = create_pg_database("sluice_big")
    home = tmp_path / "home"
    env_overrides = {"max_rows_by_level": {"L2": ROWS}, "daily_row_quota": 10 * ROWS}
    server = None
    try:
        with demo_gateway(home, backend_url=url, **env_overrides) as gw:
            _make_big_table(url)
            _register(gw, url)
            token = gw.token("arthur", ttl=3600)
        port = _free_port()
        env = {
            **os.environ,
            "SLUICE_HOME": str(home),
            "SLUICE_MAX_ROWS_BY_LEVEL": f'{{"L2": {ROWS}}}',
            "SLUICE_DAILY_ROW_QUOTA": str(10 * ROWS),
            # the test's PostgreSQL is on loopback: allowed explicitly, as an admin would
            "SLUICE_SOURCE_ALLOW_HOSTS": "127.0.0.1",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if live_http.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        body = {
            "purpose": "supervision",
            "case_ref": "BIG-1",
            "limit": ROWS,
            "fields": ["id", "id_number", "phone", "region_code", "amount"],
        }
        proc = psutil.Process(server.pid)
        # warm up (imports, pools, first decision) before taking the baseline
        warm = live_http.post(
            f"{base}/api/v1/datasets/civil.big_rows/query",
            headers=headers,
            json={**body, "limit": 10},
            timeout=60,
        )
        assert warm.status_code == 200, warm.text
        for fmt in ("csv", "arrow"):
            baseline = proc.memory_info().rss
            peak = [baseline]
            done = threading.Event()

            def sample(peak: list[int] = peak, done: threading.Event = done) -> None:
                while not done.is_set():
                    peak[0] = max(peak[0], proc.memory_info().rss)
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            received = 0
            with live_http.stream(
                "POST",
                f"{base}/api/v1/datasets/civil.big_rows/query",
                params={"format": fmt},
                headers=headers,
                json=body,
                timeout=300,
            ) as resp:
                assert resp.status_code == 200
                for chunk in resp.iter_bytes():
                    received += len(chunk)
            done.set()
            sampler.join()
            growth_mb = (peak[0] - baseline) / 2**20
            assert received > ROWS * 20, (fmt, received)
            assert growth_mb < LIMIT_MB, f"{fmt}: server RSS grew {growth_mb:.0f} MB"
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        drop_pg_database(name)
