"""This gateway as a witness for other gateways' audit checkpoints.

``POST /api/v1/witness/checkpoints`` takes a signed envelope and answers a
countersigned receipt (``audit.witness_book`` holds the rules: pinned keys, nothing
backwards, no rewritten hash). No bearer token: the sender is authenticated by its
pinned signing key, which is what a witness must trust anyway. The body is parsed
strictly (duplicate keys refused) before anything reads it.
``GET /api/v1/witness/checkpoints/{sender}`` is public: a sender's monitor and offline
verifiers read the newest countersigned checkpoint there (seq and hash, no content).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam

from audit.witness_book import WitnessBook
from catalog.errors import BadRequest, NotFound, TooLarge

router = APIRouter(prefix="/api/v1/witness", tags=["witness"])
MAX_BODY = 64 * 1024


def _book(request: Request) -> WitnessBook:
    log = getattr(request.app.state.services, "audit", None)
    book = getattr(log, "witness_book", None)
    if not isinstance(book, WitnessBook):
        raise NotFound("this gateway is not a witness")
    return book


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise BadRequest("duplicate keys in the checkpoint envelope")
    return dict(pairs)


def _constant(name: str) -> None:
    raise BadRequest(f"{name} is not JSON")


@router.post("/checkpoints")
async def receive(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TooLarge("checkpoint envelope too large")
    try:
        envelope = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("the body is not a JSON object") from exc
    return _book(request).receive(envelope)


@router.get("/checkpoints/{sender}")
def latest(
    request: Request, sender: str = PathParam(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
) -> dict[str, Any]:
    found = _book(request).latest(sender)
    if found is None:
        raise NotFound(f"nothing witnessed for {sender!r}")
    return found
