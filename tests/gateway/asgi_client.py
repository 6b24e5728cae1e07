"""Call the ASGI app in-process without ``starlette.testclient`` (whose httpx backend
now emits a StarletteDeprecationWarning, an error under ``filterwarnings = error``)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from fastapi import FastAPI


def get(app: FastAPI, url: str, headers: Mapping[str, str | bytes] | None = None) -> httpx.Response:
    """One GET request through ``httpx.ASGITransport``; no network involved."""

    async def _call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.get(url, headers=dict(headers or {}))

    return asyncio.run(_call())
