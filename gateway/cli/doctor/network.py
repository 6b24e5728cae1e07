"""Checks that contact other services: witnesses, Redis, the OIDC provider's keys.

Each is bounded by ``--timeout`` and only reads: a witness gateway is asked for what it
holds of this gateway (``GET /api/v1/witness/checkpoints/<gateway id>``, where 404 means
"reachable, nothing witnessed yet"), a NATS stream for its configuration (never
created or changed here, unlike the gateway's own first publish), Redis for a PING.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from catalog.private_files import KEY_BYTES, read_own
from gateway.cli.doctor.config import describe_url
from gateway.cli.doctor.report import GUIDE, Context, Result, fail, ok, scrub, skip

if TYPE_CHECKING:
    from audit.witness_urls import NatsTarget

WITNESS_FIX = (
    f"start the witness or correct SLUICE_WITNESSES ({GUIDE}, Witnesses): until it is back "
    "the trail's tail is vouched for by this host alone"
)


def _gateway_id(ctx: Context) -> str | None:
    s = ctx.need()
    if s.gateway_id:
        return s.gateway_id
    try:
        return read_own(Path(s.home) / "gateway-id", limit=KEY_BYTES).decode().strip() or None
    except OSError:
        return None


def check_witnesses(ctx: Context) -> list[Result]:
    from audit.witness_urls import is_nats_url
    from catalog.loopback import is_loopback

    urls = list(ctx.need().witnesses)
    if not urls:
        if ctx.production:
            return [fail("witnesses", "none: only the witness file on this host vouches for "
                         "the trail's tail", "set SLUICE_WITNESSES to another gateway "
                         "(https://…) or a NATS JetStream stream (nats://…) "
                         f"({GUIDE}, Witnesses)")]  # fmt: skip
        return [skip("witnesses", "none configured (development)")]
    out = []
    for url in urls:
        shown = describe_url(url)
        if is_nats_url(url):
            result = _nats(ctx, url)
        elif (
            ctx.production
            and url.startswith("http://")
            and not is_loopback(urlsplit(url).hostname or "")
        ):
            result = fail("witness", "plain http: checkpoints travel unprotected",
                          "use https:// for witness gateways")  # fmt: skip
        else:
            result = _http(ctx, url)
        out.append(Result(result.status, result.check, f"{shown}: {result.detail}", result.fix))
    return out


def _http(ctx: Context, url: str) -> Result:
    import httpx

    gid = _gateway_id(ctx) or "unknown"
    target = f"{url.rstrip('/')}/api/v1/witness/checkpoints/{gid}"
    try:
        resp = httpx.get(target, timeout=ctx.timeout_s)
    except httpx.HTTPError as exc:
        return fail("witness", f"unreachable ({type(exc).__name__})", WITNESS_FIX)
    if resp.status_code == 404:
        return ok("witness", f"reachable; nothing witnessed yet for {gid}")
    if resp.status_code != 200:
        return fail("witness", f"answered {resp.status_code}", WITNESS_FIX)
    try:
        found = resp.json()
        seq = found["checkpoint"]["seq"]
    except (ValueError, KeyError, TypeError):
        return fail("witness", "answered 200 with no checkpoint: not a Sluice witness", WITNESS_FIX)
    if not _signed_here(ctx, found, gid):
        # the monitor skips such an answer ("not signed by this gateway"): the witness
        # holds someone else's checkpoints under this name and refuses ours (red team 56)
        return fail("witness", f"holds a checkpoint {seq} for {gid} that this host's audit "
                    "keys did not sign: the name is another sender's there (pinned to "
                    "another key, or taken first under SLUICE_WITNESS_TOFU), so it refuses "
                    "this gateway's checkpoints",
                    "pin this replica's key id for its gateway id at the witness "
                    f"(SLUICE_WITNESS_TRUST=<gateway id>=<kid>), or give it its own id "
                    f"(SLUICE_GATEWAY_ID) ({GUIDE}, Witnesses)")  # fmt: skip
    return _in_chain(ctx, found, gid, "reachable")


def _in_chain(ctx: Context, found: dict[str, Any], gid: str, where: str) -> Result:
    """A witness's checkpoint of this gateway (signed here) judged against the chain."""
    seq = found["checkpoint"]["seq"]
    missing = _missing_from_chain(ctx, found)
    if missing is not None:
        return fail("witness", f"holds checkpoint {seq} of {gid}, but the chain's event "
                    f"{seq} is {missing}: events were cut or rewritten, or the database was "
                    "restored from an older backup (the gateway seals on it at start)",
                    f"do not serve: run `sluice audit verify` and follow {GUIDE}, "
                    "Restoring a backup")  # fmt: skip
    return ok("witness", f"{where}; holds checkpoint {seq} of {gid}")


def _missing_from_chain(ctx: Context, found: dict[str, Any]) -> str | None:
    """``missing`` or ``different`` when the witnessed checkpoint, of this epoch, is not
    in the chain as stored (what ``witness file`` asks of this host's own file: a host
    restored whole from a snapshot passes that one; red team 56); None otherwise, or
    when there is no database to ask."""
    from audit.seal import SealStore
    from gateway.cli.doctor.database import fetch_one

    if found.get("epoch") != SealStore(Path(ctx.need().home)).epoch.number:
        return None  # witnessed before the last unseal: superseded, as the monitor says
    if ctx.connection() is None:
        return None
    cp = found["checkpoint"]
    mark = "?" if ctx.dialect == "sqlite" else "%s"
    row = fetch_one(ctx, f"SELECT hash FROM audit_events WHERE seq = {mark}", (int(cp["seq"]),))
    if row is None:
        return "missing"
    return None if row[0] == cp["hash"] else "different"


def _signed_here(ctx: Context, found: Any, gid: str) -> bool:
    """Whether a witness's answer carries this replica's signatures, read with the
    public halves of its own audit keys (``<home>/keys/audit``; nothing created)."""
    from audit.witness_envelope import signed_by_sender

    cp = found.get("checkpoint") if isinstance(found, dict) else None
    return isinstance(cp, dict) and signed_by_sender(found, cp, _audit_keys(ctx), gid)


def _audit_keys(ctx: Context) -> dict[str, str]:
    """kid -> public key of every signing key in this home, as ``KeyRing`` names them
    (read like it, never through a link; a key that cannot be read is left out)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from audit.signing import b64, kid_for

    keys: dict[str, str] = {}
    for path in sorted((Path(ctx.need().home) / "keys" / "audit").glob("ed25519-*.pem")):
        try:
            key = serialization.load_pem_private_key(read_own(path, limit=KEY_BYTES), None)
        except (OSError, ValueError):
            continue
        if isinstance(key, Ed25519PrivateKey):
            raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)  # fmt: skip
            keys[kid_for(raw)] = b64(raw)
    return keys


def _nats(ctx: Context, url: str) -> Result:
    from audit.witness_urls import parse_nats_url

    target = parse_nats_url(url)
    try:
        reading = _stream_info(target.server, target.stream, ctx.timeout_s)
        info = asyncio.run(asyncio.wait_for(reading, ctx.timeout_s))
    except Exception as exc:  # nats-py raises its own tree, OSError and timeouts
        return fail("witness", f"unreachable ({type(exc).__name__})", WITNESS_FIX)
    if info is None:
        return ok("witness", f"reachable; stream {target.stream} is made on the first checkpoint")
    from audit.witness_nats import weaknesses

    weak = weaknesses(info.config)
    if weak:
        return fail("witness", f"stream {target.stream} is not append-only: {', '.join(weak)}",
                    "let the gateway tighten it (it refuses the stream otherwise), or "
                    "re-create it (THREAT_MODEL.md, NATS witness)")  # fmt: skip
    return _nats_holds(ctx, target, f"reachable; stream {target.stream} append-only")


def _nats_holds(ctx: Context, target: NatsTarget, where: str) -> Result:
    """What an append-only stream holds for this gateway, read as its monitor reads it
    (``NatsWitness.latest``: this host's signatures only, never backwards, nothing lost),
    judged as an HTTP witness's answer is: the stream's configuration and message count
    alone passed a stream of another key's checkpoints on this gateway's subject and one
    holding a checkpoint the chain lacks (red team 56)."""
    from audit.witness_errors import WitnessEvidence, WitnessUnreachable
    from audit.witness_nats import NatsWitness

    gid = _gateway_id(ctx) or "unknown"
    witness = NatsWitness(target, sender=gid, public_keys=lambda: _audit_keys(ctx),
                          timeout_s=ctx.timeout_s)  # fmt: skip
    try:
        found = witness.latest()
    except WitnessEvidence as exc:
        return fail("witness", str(exc), f"do not serve: run `sluice audit verify` ({GUIDE}, "
                    "Witnesses)")  # fmt: skip
    except WitnessUnreachable as exc:
        return fail("witness", f"unreachable ({exc})", WITNESS_FIX)
    finally:
        witness.close()
    if found is not None:
        return _in_chain(ctx, found, gid, where)
    if witness.foreign:
        return fail("witness", f"{witness.foreign} messages on {gid}'s subject, none signed by "
                    "this host's audit keys: the name is another sender's there, and this "
                    "gateway's checkpoints would stand beside them",
                    f"give this replica its own id (SLUICE_GATEWAY_ID) ({GUIDE}, "
                    "Witnesses)")  # fmt: skip
    return ok("witness", f"{where}; nothing witnessed yet for {gid}")


async def _stream_info(server: str, stream: str, timeout_s: float) -> Any:
    import nats
    from nats.js.errors import NotFoundError

    async def quiet(_exc: Exception) -> None:
        return None

    client = await nats.connect(servers=[server], connect_timeout=timeout_s,
                                allow_reconnect=False, max_reconnect_attempts=0,
                                error_cb=quiet, name="sluice-doctor")  # fmt: skip
    try:
        try:
            return await client.jetstream(timeout=timeout_s).stream_info(stream)
        except NotFoundError:
            return None
    finally:
        await client.close()


def check_redis(ctx: Context) -> list[Result]:
    url = ctx.need().redis_url
    if not url:
        return [skip("redis", "unset: rate limits and row quotas are counted per process "
                     "(with --workers > 1 or replicas, set SLUICE_REDIS_URL)")]  # fmt: skip
    import redis

    shown = describe_url(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=ctx.timeout_s,
                                      socket_timeout=ctx.timeout_s)  # fmt: skip
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return [fail("redis", f"{shown}: unreachable ({type(exc).__name__})",
                     "start Redis or correct SLUICE_REDIS_URL: the gateway refuses requests "
                     "it cannot count")]  # fmt: skip
    return [ok("redis", f"{shown}: answers (limits shared by every process)")]


def check_jwks(ctx: Context) -> list[Result]:
    import httpx

    s = ctx.need()
    if not s.oidc_jwks_url:
        return [skip("oidc keys", "no OIDC provider configured")]
    shown = describe_url(s.oidc_jwks_url)
    fix = f"check SLUICE_OIDC_JWKS_URL and that the provider is up ({GUIDE}, OIDC)"
    try:
        resp = httpx.get(s.oidc_jwks_url, timeout=ctx.timeout_s)
        keys = resp.json().get("keys") if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return [fail("oidc keys", f"{shown}: unreachable ({scrub(type(exc).__name__)})", fix)]
    if not isinstance(keys, list) or not keys:
        return [fail("oidc keys", f"{shown}: answered {resp.status_code} without keys", fix)]
    return [ok("oidc keys", f"{shown}: {len(keys)} signing key(s)")]
