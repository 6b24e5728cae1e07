"""Scenario ``peer``: the governed small query beside Datasette, an ungoverned data API
that users pick today, on the same SQLite file, rows and fields.

Both serve the demo's civil-affairs file (``civil.db``, default sizes, seed 42, from
``bench.embedded``): the gateway as the embedded default (SQLite catalog and audit
trail, production settings), Datasette 0.65 as ``datasette serve --immutable`` with its
defaults. The same 20 rows — ``region_code`` starting with alice's county — and the same
five fields: Datasette's SQL API (``/civil.json?sql=…``) running the SELECT the gateway's
SQLite adapter compiles for the query, so both read the same rows in the same order
(checked on the unmasked fields before the load); the gateway's governed query as
alice, three of the five masked, every request authenticated, decided, audited.

The loads alternate (gateway, Datasette, gateway, …) so both see the same neighbours;
the figure is the ratio of the medians of requests/s at each concurrency, target ≥ 1 at
c=8 (Sluice, with its governance, must stay ahead). The gateway process's CPU per
request is kept beside it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench import embedded
from bench.load import run_load
from bench.proc import Gateway
from bench.small import BODY, GOVERNED_PATH

PORT = 8798
LEVELS = (1, 8)
PREFIX = "430121"  # alice's jurisdiction: the row filter the gateway applies


def datasette_url(port: int = PORT) -> str:
    """Datasette's SQL API with the SELECT the gateway's SQLite adapter runs (same
    plan, so the same 20 rows in the same order)."""
    cols = ", ".join(f'"{f}"' for f in BODY["fields"])
    sql = (f'SELECT {cols} FROM "dibao_recipients" WHERE "region_code" LIKE :p || \'%\' '
           f"ESCAPE '/' LIMIT {BODY['limit']}")  # fmt: skip
    query = urlencode({"sql": sql, "p": PREFIX, "_shape": "objects"})
    return f"http://127.0.0.1:{port}/civil.json?{query}"


class Datasette:
    """``datasette serve --immutable civil.db`` as its own process."""

    def __init__(self, db: Path, port: int = PORT) -> None:
        exe = Path(sys.executable).with_name("datasette")
        self.log = (db.parent / "datasette.log").open("ab")
        self.proc = subprocess.Popen([str(exe), "serve", "--immutable", str(db), "-p", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        url = datasette_url(port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"datasette exited; see {db.parent / 'datasette.log'}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("datasette did not start within 60 s")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def same_rows(gw: Gateway, url: str) -> dict[str, Any]:
    """Both answer 20 rows, with the same region codes and amounts (the unmasked
    fields) in the same order."""
    gov = httpx.post(gw.base + GOVERNED_PATH, json=BODY, timeout=10,
                     headers={"Authorization": f"Bearer {gw.tokens['alice']}"}).json()  # fmt: skip
    peer = httpx.get(url, timeout=10).json()["rows"]
    rows = gov["rows"] if isinstance(gov, dict) else gov

    def plain(rs: list[dict[str, Any]]) -> list[tuple[Any, Any]]:
        return [(r["region_code"], r["monthly_amount"]) for r in rs]

    return {"rows": len(rows), "peer_rows": len(peer), "agree": plain(rows) == plain(peer)}


def run(seconds: float = 4.0, rounds: int = 3) -> dict[str, Any]:
    gw = Gateway(embedded=True)
    try:
        peer = Datasette(embedded.ensure_files() / "civil.db")
    except BaseException:  # no datasette installed: the gateway must not outlive the run
        gw.close()
        raise
    url = datasette_url()
    out: dict[str, Any] = {"levels": {}}
    try:
        token = gw.tokens["alice"]
        run_load(gw.base + GOVERNED_PATH, BODY, token=token, concurrency=4, seconds=1)
        run_load(url, None, token=None, concurrency=4, seconds=1)
        out["check"] = same_rows(gw, url)
        runs: dict[int, dict[str, list[float]]] = {c: {"gov": [], "peer": [], "cpu": []}
                                                   for c in LEVELS}  # fmt: skip
        for _ in range(rounds):
            for c in LEVELS:
                cpu = gw.cpu_s()
                g = run_load(gw.base + GOVERNED_PATH, BODY, token=token, concurrency=c,
                             seconds=seconds)  # fmt: skip
                runs[c]["cpu"].append((gw.cpu_s() - cpu) / max(g["requests"], 1) * 1000)
                p = run_load(url, None, token=None, concurrency=c, seconds=seconds)
                runs[c]["gov"].append(g["rps"])
                runs[c]["peer"].append(p["rps"])
        for c, r in runs.items():
            gov, dst = statistics.median(r["gov"]), statistics.median(r["peer"])
            out["levels"][str(c)] = {"governed_rps": gov, "datasette_rps": dst,
                                     "ratio": gov / dst, "rounds": r,
                                     "governed_cpu_ms": statistics.median(r["cpu"])}  # fmt: skip
    finally:
        peer.close()
        gw.close()
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
