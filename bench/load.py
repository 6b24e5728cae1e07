"""HTTP load from another process: ``wrk`` (C, its own threads) when installed, else a
pool of httpx client processes. Latencies are per request, as the client sees them."""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

_LUA = """
{request}
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\":%d,\\"duration_us\\":%d,\\"p50_us\\":%d,\\"p99_us\\":%d,"
    .. "\\"errors\\":%d,\\"non2xx\\":%d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


_POST = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


def run_load(
    url: str, body: dict[str, Any] | None, *, token: str | None, concurrency: int, seconds: float
) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) of POSTing ``body`` (a GET when None) at
    ``concurrency`` for ``seconds``."""
    if shutil.which("wrk"):
        return _wrk(url, body, token=token, concurrency=concurrency, seconds=seconds)
    return _httpx_pool(url, body, token=token, concurrency=concurrency, seconds=seconds)


def _wrk(url: str, body: dict[str, Any] | None, *, token: str | None, concurrency: int,
         seconds: float) -> dict[str, float]:  # fmt: skip
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    request = "" if body is None else _POST.format(body=_lua_string(json.dumps(body)))
    script = _LUA.format(request=request, auth=auth)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    threads = min(concurrency, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
         "--timeout", "10s",
         "-s", handle.name, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    Path(handle.name).unlink()
    match = re.search(r"RESULT (\{.*\})", out)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r = json.loads(match.group(1))
    return {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "requests": r["requests"],
        "errors": r["errors"] + r["non2xx"],
        "tool": "wrk",
    }


def _client(args: tuple[str, dict[str, Any] | None, str | None, float]) -> list[float]:
    url, body, token, seconds = args
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    times: list[float] = []
    with httpx.Client(timeout=10) as client:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            if body is None:
                client.get(url, headers=headers).raise_for_status()
            else:
                client.post(url, json=body, headers=headers).raise_for_status()
            times.append(time.perf_counter() - t)
    return times


def _httpx_pool(url: str, body: dict[str, Any] | None, *, token: str | None, concurrency: int,
                seconds: float) -> dict[str, float]:  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(concurrency) as pool:
        results = pool.map(_client, [(url, body, token, seconds)] * concurrency)
    times = sorted(t for r in results for t in r)
    return {
        "rps": len(times) / seconds,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[int(len(times) * 0.99)] * 1000,
        "requests": len(times),
        "errors": 0,
        "tool": "httpx",
    }
