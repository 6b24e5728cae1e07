"""Console sessions: a signed, HttpOnly, ``SameSite=Strict`` cookie naming a server-side row.

The cookie holds a random session id, the subject it signs in, when the session
started and how (password or OIDC), with an HMAC of all four under the console key
(``<home>/keys/console.secret``, 0600, created once like the other keys). The database
keeps only the SHA-256 of the id (``console_sessions``), the subject, the CSRF token,
and when the session was created and last used. So:

- sign-out deletes the row: the cookie is dead even if a copy survives in a browser;
- the idle timeout is checked on the server (``last_seen_at``), not trusted to the
  cookie's own expiry; ``last_seen_at`` is written at most once a minute; and a
  session ends ``max_age_s`` after its sign-in however busy (the start the cookie
  signs: ``created_at`` moved forward behind the gateway changes nothing), so a
  copied cookie kept in use does not live for ever;
- a suspended or disabled user's rows are deleted by the guard on their next request
  (``gateway.web.console.guard``), and identity is read fresh on every request anyway;
- a copy of the table, or of the logs, signs nobody in;
- a session started no later than the subject's newest password set on the audit
  trail (``ended_before``, ``PasswordTrail.reset_at``) is over: the reset deleted its
  row, and the row written back by an insider revives nothing (red team 5). The start
  is signed in milliseconds, so a sign-in just after a reset is later than it;
- a row edited behind the gateway (``UPDATE console_sessions SET subject = 'root'``)
  signs nobody in either: its subject must be the one the cookie's HMAC covers, and so
  must how it signed in (``via``: a password session relabelled ``oidc`` would escape
  the guard's end of an admin-chosen password once its account gains a privileged role).

The pre-sign-in cookie (``SameSite=Lax``: it must survive the OIDC provider's redirect
back) carries the sign-in form's CSRF nonce and the OIDC ``state``, ``nonce`` and PKCE
verifier, signed and time-limited; it names no one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from catalog.private_files import create_once, read_private
from gateway.web.console.store import console_sessions

SESSION_COOKIE = "sluice_console"
PRE_COOKIE = "sluice_console_pre"
PRE_COOKIE_MAX_AGE_S = 600
TOUCH_EVERY = timedelta(seconds=60)
KEY_BYTES = 32
_S = console_sessions.c


def console_key(home: Path) -> bytes:
    """The cookie signing key, created 0600 under ``home`` on first use."""
    path = home / "keys" / "console.secret"
    create_once(path, lambda: secrets.token_bytes(KEY_BYTES), prefix=".console-")
    key = read_private(path)
    if len(key) < KEY_BYTES:
        raise ValueError(f"{path} is shorter than {KEY_BYTES} bytes")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 under one key, each use under its own purpose label."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, purpose: str, payload: str) -> str:
        mac = hmac.new(self._key, f"{purpose}\n{payload}".encode(), hashlib.sha256).digest()
        return f"{payload}.{_b64(mac)}"

    def unsign(self, purpose: str, value: str) -> str | None:
        """The payload if ``value`` carries a valid signature for ``purpose``, else None."""
        payload, sep, _mac = value.rpartition(".")
        if not sep or len(value) > 4096:
            return None
        if hmac.compare_digest(self.sign(purpose, payload), value):
            return payload
        return None

    def pack(self, purpose: str, data: dict[str, Any], *, now: float | None = None) -> str:
        """``data`` with its issue time, signed (for the pre-sign-in cookie)."""
        body = {**data, "t": int(time.time() if now is None else now)}
        return self.sign(purpose, _b64(json.dumps(body, separators=(",", ":")).encode()))

    def unpack(self, purpose: str, value: str | None, *, max_age_s: int,
               now: float | None = None) -> dict[str, Any] | None:  # fmt: skip
        payload = self.unsign(purpose, value or "")
        if payload is None:
            return None
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            return None
        issued = data.get("t") if isinstance(data, dict) else None
        current = time.time() if now is None else now
        if not isinstance(issued, int) or not 0 <= current - issued <= max_age_s:
            return None
        return dict(data)


@dataclass(frozen=True)
class ConsoleSession:
    id_hash: str
    subject: str
    csrf_token: str
    via: str
    created_at: datetime
    # the start the cookie signs (``find``), which the session's age counts from: the
    # row's ``created_at`` is the database's to say
    started_at: datetime | None = None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _whole(text: str) -> bool:
    """A session start as signed: milliseconds since the epoch (at most 14 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 14


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Creates, finds, touches and ends console sessions."""

    def __init__(
        self,
        *,
        engine: Engine,
        signer: Signer,
        idle_timeout_s: int,
        max_age_s: int = 12 * 3600,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ended_before: Callable[[str], datetime | None] | None = None,
    ) -> None:
        """``ended_before(subject)``: sessions of ``subject`` started then or earlier are
        over (the newest password set on the audit trail)."""
        self._engine = engine
        self._ended_before = ended_before
        self._signer = signer
        self._idle = timedelta(seconds=idle_timeout_s)
        self._max_age = timedelta(seconds=max_age_s)
        self._clock = clock

    @property
    def idle_timeout_s(self) -> int:
        return int(self._idle.total_seconds())

    def create(self, *, subject: str, via: str) -> tuple[str, ConsoleSession]:
        """A new session; returns the cookie value and the session."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        row = ConsoleSession(id_hash=_id_hash(session_id), subject=subject,
                             csrf_token=secrets.token_urlsafe(32), via=via,
                             created_at=now)  # fmt: skip
        with self._engine.begin() as conn:
            conn.execute(insert(console_sessions).values(
                id_hash=row.id_hash, subject=subject, csrf_token=row.csrf_token, via=via,
                created_at=now, last_seen_at=now,
            ))  # fmt: skip
        # the start is signed too: a session's age is not its row's to say (red team 5)
        started = int(now.timestamp() * 1000)
        payload = f"{session_id}~{_b64(subject.encode())}~{started}~{_b64(via.encode())}"
        return self._signer.sign("session", payload), row

    def find(self, cookie: str | None) -> ConsoleSession | None:
        """The live session a cookie names (touched), or None: bad signature, unknown,
        ended, or idle too long (then the row is deleted)."""
        payload = self._signer.unsign("session", cookie or "")
        parts = (payload or "").split("~")
        if len(parts) != 4 or not parts[0] or not _whole(parts[2]):
            return None  # a cookie from before ``via`` was signed, too: sign in again
        session_id, signed_subject, started, signed_via = parts
        id_hash = _id_hash(session_id)
        now = self._clock()
        with self._engine.connect() as conn:
            row = conn.execute(select(console_sessions).where(_S.id_hash == id_hash)).first()
        if (
            row is None
            or _b64(str(row.subject).encode()) != signed_subject
            or _b64(str(row.via).encode()) != signed_via
        ):
            return None  # unknown, or not the subject (or sign-in) this cookie signs
        last_seen = _aware(row.last_seen_at)
        start = datetime.fromtimestamp(int(started) / 1000, UTC)  # as signed, not as stored
        if now - last_seen >= self._idle or self._over(row.subject, start, now):
            self._delete(_S.id_hash == id_hash)
            return None
        self._touch(id_hash, last_seen, now)
        return ConsoleSession(id_hash=id_hash, subject=row.subject, csrf_token=row.csrf_token,
                              via=row.via, created_at=_aware(row.created_at),
                              started_at=start)  # fmt: skip

    def _over(self, subject: str, start: datetime, now: datetime) -> bool:
        """Whether a session of ``subject`` started at ``start`` (as its cookie signs) is
        over, however busy: past its maximum age, or ended by a password set on the
        trail at or after its start."""
        if now - start >= self._max_age:
            return True
        cut = None if self._ended_before is None else self._ended_before(subject)
        started_ms = round(start.timestamp() * 1000)  # the signed milliseconds, exactly
        return cut is not None and started_ms <= int(cut.timestamp() * 1000)

    def _touch(self, id_hash: str, last_seen: datetime, now: datetime) -> None:
        """``last_seen_at`` moved to ``now``, at most once a ``TOUCH_EVERY``."""
        if now - last_seen >= TOUCH_EVERY:
            with self._engine.begin() as conn:
                conn.execute(update(console_sessions).where(_S.id_hash == id_hash)
                             .values(last_seen_at=now))  # fmt: skip

    def live(self, session: ConsoleSession) -> bool:
        """Whether ``session`` is still live for a result in flight (``governs``): its row
        still there — a sign-out, a password reset, a suspension delete it — and, from
        the start its cookie signs, not past its maximum age nor ended by a password set
        since (rows are deleted when a *request* finds them over, and a download makes
        none: one started late in a session's life ran on past its end, stop 43). Not
        judged idle: a long download is no idle session — so it is touched as a page is:
        never moved by a download, ``last_seen_at`` had the owner's next page find the
        session idle half an hour into it, sign her out and cut it (red team 66)."""
        with self._engine.connect() as conn:
            found = conn.execute(
                select(_S.last_seen_at).where(_S.id_hash == session.id_hash)
            ).first()
        if found is None:
            return False
        now, start = self._clock(), session.started_at
        # None: a session made here (``create``), not found by its cookie
        if start is not None and self._over(session.subject, start, now):
            return False
        self._touch(session.id_hash, _aware(found.last_seen_at), now)
        return True

    def end(self, session: ConsoleSession) -> None:
        self._delete(_S.id_hash == session.id_hash)

    def end_all(self, subject: str) -> int:
        """End every session of ``subject`` (suspension, disabling); how many were."""
        return self._delete(_S.subject == subject)

    def _delete(self, where: Any) -> int:
        with self._engine.begin() as conn:
            return int(conn.execute(delete(console_sessions).where(where)).rowcount or 0)
