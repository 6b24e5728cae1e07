"""Checks of the settings alone (``docs/deploy.md``, "Settings"): nothing is contacted
(the allowed hosts also read where the last gateway on this home listened).

Loading the settings is itself the first check. ``Settings`` refuses a placeholder
master key or a short metrics token in production; the doctor reports the refusal and
carries on without the refused secret, so one bad value does not hide every other
finding. Which secret was refused is learnt by loading again without it, never by
reading the error's text.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from gateway.cli.doctor.report import GUIDE, Context, Result, fail, ok, scrub, skip

# secrets the settings may refuse, retried without (alone, then together)
_DROPPABLE = (("master_key",), ("metrics_token",), ("master_key", "metrics_token"))
KEY_FIX = (
    "set SLUICE_MASTER_KEY to 32 random bytes in base64 (openssl rand -base64 32) from "
    f"your secret manager, the same on every replica ({GUIDE}, Keys)"
)


def load_context(**options: Any) -> Context:
    """The settings from the environment, or the closest loadable ones and the errors."""
    from pydantic import ValidationError

    from gateway.core.settings import load_settings

    try:
        return Context(settings=load_settings(), **options)
    except ValidationError as exc:
        errors = [scrub(_where(e["loc"]) + _message(e)) for e in exc.errors(include_url=False)]
    for names in _DROPPABLE:
        try:
            settings = load_settings(**dict.fromkeys(names))
        except ValidationError:
            continue
        return Context(settings=settings, settings_errors=errors, refused=frozenset(names),
                       **options)  # fmt: skip
    return Context(settings=None, settings_errors=errors, **options)


def _message(error: Any) -> str:
    """A validator's own message (pydantic prefixes "Value error, " to it)."""
    cause = error.get("ctx", {}).get("error") if error.get("type") == "value_error" else None
    return str(cause) if cause is not None else str(error["msg"])


def _where(loc: tuple[int | str, ...]) -> str:
    return f"SLUICE_{str(loc[0]).upper()}: " if loc else ""


def check_settings(ctx: Context) -> list[Result]:
    if not ctx.settings_errors:
        return [ok("settings", "every SLUICE_* value is valid")]
    fix = f"correct that setting ({GUIDE}, Settings)"
    return [fail("settings", message, fix) for message in ctx.settings_errors]


def check_environment(ctx: Context) -> list[Result]:
    s = ctx.need()
    out = []
    if s.env == "production":
        out.append(ok("environment", "SLUICE_ENV=production (JSON logs, placeholders refused)"))
    else:
        out.append(fail("environment", f"SLUICE_ENV={s.env}: console logs, placeholder "
                        "secrets accepted", "set SLUICE_ENV=production"))  # fmt: skip
    if s.env == "production" and s.demo:
        out.append(fail("demo mode", "SLUICE_DEMO is on: the demo data directory is an "
                        "allowed file root", "set SLUICE_DEMO=false"))  # fmt: skip
    elif not s.demo:
        out.append(ok("demo mode", "off"))
    return out


def _is_32_bytes_b64(value: str) -> bool:
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            if len(decode(value.strip().encode("ascii"))) == 32:
                return True
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
    return False


def check_master_key(ctx: Context) -> list[Result]:
    """The env master key: set, not a placeholder, and 32 random bytes in production
    (``adapters.credentials`` runs any other string through HKDF, which does not
    stretch a weak passphrase)."""
    from adapters.credentials import derive_master_key, env_kid

    s = ctx.need()
    if "master_key" in ctx.refused:
        return [fail("master key", "SLUICE_MASTER_KEY is a placeholder (refused)", KEY_FIX)]
    if s.master_key is None or not s.master_key.get_secret_value():
        if ctx.production:
            return [fail("master key", "SLUICE_MASTER_KEY unset: source secrets are wrapped "
                         "only by key files in SLUICE_HOME", KEY_FIX)]  # fmt: skip
        return [skip("master key", "unset (development): key files in SLUICE_HOME")]
    value = s.master_key.get_secret_value()
    if ctx.production and not _is_32_bytes_b64(value):
        return [fail("master key", "SLUICE_MASTER_KEY is a passphrase, not 32 random bytes "
                     "in base64", KEY_FIX)]  # fmt: skip
    kid = env_kid(derive_master_key(value))
    return [ok("master key", f"set ({kid}: the same on every replica)")]


def _plain_http(url: str) -> bool:
    from catalog.loopback import is_loopback

    parts = urlsplit(url)
    return parts.scheme != "https" and not is_loopback(parts.hostname or "")


def check_token_issuer(ctx: Context) -> list[Result]:
    from gateway.cli.banner import redact_url

    s = ctx.need()
    fix = f"set SLUICE_OIDC_ISSUER and SLUICE_OIDC_JWKS_URL ({GUIDE}, OIDC)"
    if bool(s.oidc_issuer) != bool(s.oidc_jwks_url):
        return [fail("token issuer", "only one of SLUICE_OIDC_ISSUER / SLUICE_OIDC_JWKS_URL "
                     "is set: the gateway refuses to start", fix)]  # fmt: skip
    if not s.oidc_issuer or not s.oidc_jwks_url:
        if ctx.production:
            return [fail("token issuer", "embedded issuer: whoever reads its key in "
                         "SLUICE_HOME can mint any user's token", fix)]  # fmt: skip
        return [ok("token issuer", "embedded issuer (development)")]
    if ctx.production and (_plain_http(s.oidc_issuer) or _plain_http(s.oidc_jwks_url)):
        return [fail("token issuer", "the OIDC issuer or JWKS URL is plain http off "
                     "loopback: keys could be swapped in transit",
                     "use https:// URLs")]  # fmt: skip
    return [ok("token issuer", f"OIDC {redact_url(s.oidc_issuer)}, audience "
               f"{s.oidc_audience!r}")]  # fmt: skip


def check_trusted_proxies(ctx: Context) -> list[Result]:
    s = ctx.need()
    networks = [ipaddress.ip_network(p, strict=False) for p in s.trusted_proxies]
    wide = _every_address(networks)
    if wide:
        return [fail("trusted proxies", f"{', '.join(wide)} trusts every address: any "
                     "client can write any address into the trail",
                     "list only the reverse proxies' addresses")]  # fmt: skip
    if not networks:
        return [ok("trusted proxies", "none: the client on record is the TCP peer (behind "
                   "a proxy, set SLUICE_TRUSTED_PROXIES to its address)")]  # fmt: skip
    if not s.public_url:  # links would name this replica's own address (public_origin)
        return [fail("public URL", "behind a proxy without SLUICE_PUBLIC_URL, the DCAT "
                     "catalog's links and the console's OIDC redirect URI name this "
                     "replica's own address (never the client's Host header)",
                     "set SLUICE_PUBLIC_URL to the address users reach")]  # fmt: skip
    return [
        ok("trusted proxies", ", ".join(str(n) for n in networks)),
        ok("public URL", s.public_url),
    ]


_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # every IPv4 peer of a dual-stack socket


def _every_address(networks: list[Any]) -> list[str]:
    """The networks that together cover a whole address family: ``0.0.0.0/0``, or the
    same spelt in parts (``0.0.0.0/1,128.0.0.0/1``: each prefix alone looked narrow),
    or every IPv4-mapped address (how a gateway listening on ``::`` sees IPv4 peers)
    (red team 56)."""
    wide: list[str] = []
    for version in (4, 6):
        family = [n for n in networks if n.version == version]
        joined = list(ipaddress.collapse_addresses(family))
        if any(n.prefixlen == 0 or (version == 6 and _MAPPED.subnet_of(n)) for n in joined):
            wide.append(", ".join(str(n) for n in family))
    return wide


def check_allowed_hosts(ctx: Context) -> list[Result]:
    """The names the gateway answers to (``gateway.web.allowed_hosts``), against where
    the last gateway on this home listened (``gateway.core.listening``): beyond loopback
    with neither setting, users who reach it by a name are refused (400)."""
    from pathlib import Path

    from catalog.loopback import is_loopback
    from gateway.core.listening import listened_on

    s = ctx.need()
    names = ([urlsplit(s.public_url).hostname or ""] if s.public_url else []) + s.allowed_hosts
    bind = listened_on(Path(s.home))
    if names:
        return [ok("allowed hosts", f"{', '.join(names)} (and the address a request reached)")]
    if bind is None:
        return [skip("allowed hosts", "no gateway has listened on this home yet")]
    if is_loopback(bind):
        return [ok("allowed hosts", f"listening on {bind}: localhost and its addresses")]
    return [fail("allowed hosts", f"listening on {bind} with neither SLUICE_PUBLIC_URL nor "
                 "SLUICE_ALLOWED_HOSTS: a request naming the gateway other than by its IP "
                 "address is refused (400)", "set SLUICE_PUBLIC_URL to the address users "
                 "reach, or SLUICE_ALLOWED_HOSTS to the names they use")]  # fmt: skip


def check_metrics_token(ctx: Context) -> list[Result]:
    s = ctx.need()
    if "metrics_token" in ctx.refused:
        return [
            fail(
                "metrics token",
                "SLUICE_METRICS_TOKEN refused (under 32 characters)",
                "set it to 32 or more random characters (openssl rand -hex 32)",
            )
        ]
    if s.metrics_token is None:
        return [skip("metrics token", "unset: /metrics answers security officers' tokens only")]
    return [ok("metrics token", "set (a scraper may read /metrics)")]


def describe_url(url: str) -> str:
    from gateway.cli.banner import redact_url

    return scrub(redact_url(url))
