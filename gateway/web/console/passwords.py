"""Local accounts (no OIDC provider): argon2id password hashes and lockout.

An admin sets a password (``sluice users passwd``; the demo sets its users'); the
console checks it. Order of evaluation in ``check``, deliberate:

1. no local password for the name: a dummy hash is verified anyway, so an unknown name
   and a wrong password take the same time (names are not enumerable by timing);
2. locked (``locked_until`` in the future): refused without looking at the password, so
   guessing stops while the lock holds even for the right one — the work of one
   verification is still done (on a dummy hash), since an unknown name pays it on every
   attempt and a locked name that answered at once told an account from none (red
   team 13);
3. the attempt takes its place in the count of failures (an atomic ``+ 1``) *before*
   the password is verified, so attempts sent at once are counted as they arrive —
   past ``max_failures`` in flight they are refused as locked (red team 55); the
   password is verified; a wrong one keeps its place, and the last place locks the
   account for ``lockout_s``; the right one resets the count
   and rehashes when the parameters moved on — unless the account is suspended or
   disabled (``refused``): then the right one counts and answers as a wrong one, so
   neither the answer nor the lock tells a right password of such an account.

What was tried is never stored or logged; the caller puts the outcome on the trail.

Each row is sealed: ``password_hash`` holds the argon2id hash, ``#``, and an HMAC under
the console key (``gateway.web.console.sessions.console_key``) over the subject, who set
it and the hash. Anyone who can write the catalog could otherwise put the hash of a
password they know on root's row (or copy their own row there) and sign in as root,
every later action on record as root's. A row without its seal is ``tampered``: it signs
nobody in (the caller records the failure), and counts as chosen by an admin.

A password another admin chose in the console (``set_by`` ``console:<admin>``) never
signs in an account holding a privileged role (``PRIVILEGED_ROLES``): otherwise one admin
could set another admin's or officer's password — or make a second admin of their own —
and be the "other person" every two-person rule asks for. ``admin_chose`` says so; the
sign-in and every console request check it (``gateway.web.console.guard``), so a role
given after the sign-in changes nothing. Those accounts' passwords are set on the host
(``sluice users passwd``) or come from the identity provider.

A seal says who wrote a row, not that it is the *current* one: an insider who kept
root's row while a leaked password was root's could write it back after the reset (red
team 5). So every password set puts the row's digest (``row_digest``: SHA-256 of subject,
setter and sealed hash — never the hash itself) on the audit trail, in the
``user.updated {"password": "set"}`` event, which an insider cannot alter (every event
carries a MAC); ``check`` signs a row in only if its digest is the one of the newest
such event for the subject (``PasswordTrail``). A rehash on sign-in puts the new digest
on the trail too (``"rehashed"``). Accounts set before digests were recorded (no event
of the subject carries one): the row signs in and its digest goes on the trail on that
sign-in (``"bound"``), from then on it is bound; a rollback to a row set before that
upgrade cannot be told from the current row — reset such passwords once after it. A
password event without a digest *after* one with a digest (a setter that does not record
it) signs nobody in: fail closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, and_, case, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from audit.event_types import EventType
from audit.follow import TrailBroken
from audit.genuine import genuine_seqs
from audit.log import AuditLog
from audit.records import Actor, user_admin_event
from audit.search import EventFilter, list_events
from audit.sink import AuditSink
from catalog.demo.users import DEMO_USERS
from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import User
from catalog.row_bindings import SETTLE_S, mark_young, settle
from gateway.core.services import Services
from gateway.web.console.password_events import PasswordEvents
from gateway.web.console.sessions import console_key
from gateway.web.console.settings import ConsoleSettings
from gateway.web.console.store import console_sessions, local_passwords

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
PRIVILEGED_ROLES = frozenset({"admin", "security_officer"})
ADMIN_SET_PREFIX = "console:"
Outcome = Literal["ok", "wrong_password", "locked", "unknown_account", "tampered"]
_P = local_passwords.c
TRAIL_PAGE = 100


def row_digest(subject: str, set_by: str, sealed: str) -> str:
    """What the trail keeps of a ``local_passwords`` row: a digest, not the hash."""
    text = f"local_password_row\n{subject}\n{set_by}\n{sealed}".encode()
    return hashlib.sha256(text).hexdigest()


def _event_time(event: dict[str, object]) -> datetime | None:
    ts = event.get("ts")
    if not isinstance(ts, str):
        return None
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class PasswordTrail:
    """The password events of the audit trail: where a row's currency is on record.

    Read through this process's follower of the trail (``audit.follow``, consumer
    ``PasswordEvents``), on every console request's session check (``reset_at``) and
    every sign-in (``current``). The cost: the follower's lock, a check of the row at
    its watermark and the verification of the rows appended since its last read (a
    handful between two requests; none when nothing was appended); the first read in a
    process walks the trail from its snapshot, or from seq 1 without one. On a trail
    that does not verify, each read walks again from the watermark to the failure, then
    searches above it (``_password_events``)."""

    def __init__(self, audit: AuditSink) -> None:
        self._audit = audit

    def record(
        self, *, subject: str, actor: Actor, how: str, digest: str, console: bool = False
    ) -> None:
        """Append ``user.updated {"password": how, "digest": digest}`` (waits for it),
        with ``"console": true`` when an admin set it in the console."""
        details: dict[str, object] = {"password": how, "digest": digest}
        if console:
            details["console"] = True
        event = user_admin_event(
            type_=EventType.USER_UPDATED, actor=actor, subject=subject, details=details
        )
        self._audit.append(event)

    def _password_events(self, subject: str) -> list[dict[str, object]]:
        """The subject's password events, newest first, up to and including the newest
        one that carries a digest (older ones decide nothing): read from the verified
        chain (``PasswordEvents``), never by a search of the index columns, where a
        reset re-indexed under another name was not found (red team 57).

        A trail that does not verify above the follower's watermark (``TrailBroken``; or
        cut below a snapshot it resumes from, ``TrailCut``, red team 58):
        what it verified below it, and above it the events a search finds, each believed
        only if a gateway wrote it at its seq and its body says it (red teams 18, 47),
        else ``FORGED`` (nothing verifies: every session of the subject is over). The
        console stays open to the officers investigating the seal such a trail causes
        (red team 24), and a reset hidden there needs the trail broken (loud) as well
        as its columns moved."""
        return self._read(subject)[0]

    def _read(self, subject: str) -> tuple[list[dict[str, object]], dict[str, object] | None]:
        """``_password_events``, and the subject's newest ``set`` (a reset), however
        many digest events came after it (``PasswordEvents.newest_set``, red team 58);
        on a broken trail the newest one the search above the watermark found, else the
        one verified below it."""
        if not isinstance(self._audit, AuditLog):  # a stand-in trail: nothing on record
            return [], None
        follower = self._audit.followers.of(PasswordEvents)
        try:
            with follower.caught_up() as index:
                return index.events_of(subject), index.newest_set(subject)
        except TrailBroken:
            with follower.as_read() as (index, watermark):
                below, below_set = index.events_of(subject), index.newest_set(subject)
        found = _searched_above(self._audit, subject, watermark)
        above_set = next((e for e in found if e.get("password") == "set"), None)
        if found and "digest" in found[-1]:
            return found, above_set or below_set
        return found + below, above_set or below_set

    def current_digest(self, subject: str) -> str | None:
        """The digest the current row must have; ``""`` when no event carries one (set
        before digests were recorded); None when the newest password event carries none
        though an older one does (a setter that did not record it: fail closed)."""
        return self.current(subject)[0]

    def current(self, subject: str) -> tuple[str | None, datetime | None]:
        """``current_digest``, and when the newest password event was recorded."""
        events = self._password_events(subject)
        if not events or "digest" not in events[-1]:
            return "", None
        when = _event_time(events[0])
        if "digest" not in events[0]:
            return None, when
        return str(events[0]["digest"]), when

    def reset_at(self, subject: str) -> datetime | None:
        """When ``subject``'s password was last set (the sessions before it ended): the
        newest ``set``, also when a rehash or a bind recorded a digest after it (that
        event decides the current row, not whether the reset ended the sessions before
        it: red team 58)."""
        events, newest_set = self._read(subject)
        for event in events:
            if event.get("password") == "set":
                return _event_time(event)
            if event.get("password") == FORGED:  # a reset may be hidden: all are over
                return datetime.now(UTC)
        return None if newest_set is None else _event_time(newest_set)


_SETTING = threading.Lock()
FORGED = "forged"  # a password event that is not a gateway's: no row's digest


def _searched_above(audit: AuditLog, subject: str, watermark: int) -> list[dict[str, object]]:
    """The subject's password events above ``watermark`` by a search of the index
    columns, newest first, up to the newest with a digest or one that is not a
    gateway's (then ``FORGED`` ends the list)."""
    found: list[dict[str, object]] = []
    filters = EventFilter(resource=f"user:{subject}", type=EventType.USER_UPDATED.value,
                          from_seq=watermark + 1)  # fmt: skip
    cursor: str | None = None
    while True:
        page = list_events(store=audit.store, filters=filters, cursor=cursor,
                           limit=TRAIL_PAGE)  # fmt: skip
        events = [e for e in page["items"] if _password_details(e) is not None]
        # only what a gateway wrote at its seq: a row rewritten behind the gateway (the
        # chain is public arithmetic) naming an old row's digest revived that row's
        # password (red team 18)
        genuine = genuine_seqs(audit.store, (e["seq"] for e in events))
        for event in events:
            # nor someone else's event indexed as this user's (red team 47)
            if event["seq"] not in genuine or not filters.said_by_body(event):
                # evidence, not a step back to the digest before it (which would revive
                # the row a reset replaced: red team 18): nothing verifies
                found.append({"password": FORGED, "digest": FORGED})
                return found
            found.append(event["details"] | {"ts": event.get("ts")})
            if "digest" in event["details"]:
                return found
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def _password_details(event: dict[str, object]) -> dict[str, object] | None:
    details = event.get("details")
    return details if isinstance(details, dict) and "password" in details else None


def _setter(set_by: str) -> Actor:
    """Who the password event names: the console admin, or the operator on the host."""
    if set_by.startswith(ADMIN_SET_PREFIX):
        return Actor(set_by.removeprefix(ADMIN_SET_PREFIX), None, ("console",))
    return Actor.cli(set_by.removeprefix("cli:"))


@dataclass(frozen=True)
class CheckResult:
    outcome: Outcome
    failures: int = 0
    locked_until: datetime | None = None
    withheld: str | None = None  # the true reason, on record only, behind a "wrong" answer
    # "ok": the sealed row the password was verified against (or its rehash), which the
    # sign-in checks is still there once its session exists (``still_current``)
    row: str | None = None


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


_Read = tuple[Any, "str | None", "str | None", bool]
_YOUNG = timedelta(seconds=SETTLE_S)


def _in_flight(read: _Read) -> bool:
    """A row whose seal verifies while the trail names a newer digest: another request's
    set or rehash recorded it and has not written its row yet (or the row was written
    back behind the gateway: then it never agrees)."""
    _row, stored, expected, superseded = read
    return stored is not None and bool(expected) and superseded


def check_new_password(password: str) -> None:
    """``BadRequest`` for a password too short or too long to set."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise BadRequest(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise BadRequest(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def password_hasher() -> PasswordHasher:
    """argon2id at the cost ``SLUICE_CONSOLE_ARGON2_*`` sets (argon2-cffi's defaults
    unless told): the console, ``sluice demo`` and ``sluice users passwd`` hash alike,
    and a hash made at another cost is re-made at the next right sign-in."""
    settings = ConsoleSettings()
    return PasswordHasher(time_cost=settings.argon2_time_cost,
                          memory_cost=settings.argon2_memory_kib)  # fmt: skip


class LocalAccounts:
    """Passwords of local accounts, in ``local_passwords``."""

    def __init__(
        self,
        *,
        engine: Engine,
        key: bytes,
        max_failures: int = 5,
        lockout_s: int = 900,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hasher: PasswordHasher | None = None,
        trail: PasswordTrail | None = None,
    ) -> None:
        """Without ``trail`` rows are not bound to the audit trail (unit tests only: the
        console and ``sluice users passwd`` pass one)."""
        self._engine = engine
        self._key = key
        self._max_failures = max_failures
        self._lockout = timedelta(seconds=lockout_s)
        self._clock = clock
        self._hasher = hasher or password_hasher()
        self._dummy: str | None = None
        self._trail = trail

    def set_password(
        self, *, subject: str, password: str, set_by: str, actor: Actor | None = None
    ) -> None:
        """Store ``password``'s hash for an existing user; clears failures and lock, and
        ends every console session of the account in the same transaction (a new
        password is how a leaked one is answered: the sessions it opened end with it).

        The one ``user.updated {"password": "set"}`` event of the set names ``actor``
        (the console passes the signed-in admin, department and roles included; by
        default the setter ``set_by`` names) and says ``"console": true`` for a
        ``console:`` setter, so a reset in the console is one event, not two."""
        if actor is not None and actor.sub != _setter(set_by).sub:
            raise ValueError(f"actor {actor.sub!r} is not the setter {set_by!r}")
        check_new_password(password)
        hashed = self._seal(subject, set_by, self._hasher.hash(password))
        now = self._clock()
        with self._engine.begin() as conn:
            if conn.execute(select(User.subject).where(User.subject == subject)).first() is None:
                raise NotFound(f"no user {subject!r}")
        with _SETTING:  # one set at a time in this process: digest and row in one order
            if self._trail is not None:  # first: a row the trail does not name signs nobody in
                self._trail.record(subject=subject, actor=actor or _setter(set_by), how="set",
                                   digest=row_digest(subject, set_by, hashed),
                                   console=set_by.startswith(ADMIN_SET_PREFIX))  # fmt: skip
            try:
                with self._engine.begin() as conn:
                    conn.execute(delete(local_passwords).where(_P.subject == subject))
                    conn.execute(delete(console_sessions)
                                 .where(console_sessions.c.subject == subject))  # fmt: skip
                    conn.execute(insert(local_passwords).values(
                        subject=subject, password_hash=hashed, set_at=now, set_by=set_by,
                        failed_count=0, locked_until=None,
                    ))  # fmt: skip
            except IntegrityError:  # another process's set inserted first: its row stays
                raise Conflict(f"{subject!r}'s password was being set by another request "
                               "at the same moment; set it again") from None  # fmt: skip
            self._rebind(subject, set_by, hashed)

    def _rebind(self, subject: str, set_by: str, hashed: str) -> None:
        """After a set, the trail must name the row it wrote, if that row is still the
        one there: another process's set may have recorded its digest after this one and
        written its row before it (red team 18: sets at once left a row no digest named,
        and no password signed in). A row someone else wrote since is theirs to name."""
        if self._trail is None or self._current_row(subject) != hashed:
            return
        current = row_digest(subject, set_by, hashed)
        expected = self._trail.current_digest(subject)
        if expected is None or not hmac.compare_digest(expected, current):
            self._trail.record(subject=subject, actor=_setter(set_by), how="bound",
                               digest=current)  # fmt: skip

    def _seal(self, subject: str, set_by: str, hashed: str) -> str:
        text = f"local_password\n{subject}\n{set_by}\n{hashed}".encode()
        mac = hmac.new(self._key, text, hashlib.sha256).digest()
        return f"{hashed}#{base64.urlsafe_b64encode(mac).rstrip(b'=').decode('ascii')}"

    def _unseal(self, subject: str, set_by: str, stored: str) -> str | None:
        """The argon2id hash of a row that carries its seal, else None."""
        hashed, sep, _mac = stored.rpartition("#")
        if not sep or not hmac.compare_digest(self._seal(subject, set_by, hashed), stored):
            return None
        return hashed

    def admin_chose(self, subject: str) -> bool:
        """Whether ``subject``'s password was chosen by an admin in the console (or its
        row is not what the gateway wrote: then nobody can tell who chose it)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_P.set_by, _P.password_hash).where(_P.subject == subject)
            ).first()
        if row is None:
            return False
        if self._unseal(subject, row.set_by, row.password_hash) is None:
            return True
        return str(row.set_by).startswith(ADMIN_SET_PREFIX)

    def has_password(self, subject: str) -> bool:
        with self._engine.connect() as conn:
            row = conn.execute(select(_P.subject).where(_P.subject == subject)).first()
        return row is not None

    def check(self, *, subject: str, password: str, refused: str | None = None) -> CheckResult:
        """See the module docstring for the order. Blocking (argon2, a database write).

        ``refused``: why the account may not sign in whatever its password (the
        directory's ``account_disabled``: suspended or disabled). Its right password is
        then verified, counted and answered as a wrong one (``withheld`` carries the
        reason for the trail): answering "disabled" only to the right password, or
        resetting the count for it, would tell anyone which password is right."""
        now = self._clock()
        row, stored, expected, superseded = settle(lambda: self._read(subject), _in_flight)
        if row is None:
            self._burn(password)
            return CheckResult("unknown_account")
        if stored is None or superseded:  # written behind the gateway's back, or rolled back
            self._burn(password)
            return CheckResult("tampered")
        locked_until = _aware(row.locked_until)
        if locked_until is not None and locked_until > now:
            self._burn(password)  # as slow as an unknown name's attempt (see 2.)
            return CheckResult("locked", locked_until=locked_until)
        taken = self._take_attempt(subject, now)
        if taken is None:  # the attempts the lock allows are all being verified (see 3.)
            self._burn(password)
            return CheckResult("locked", failures=self._max_failures)
        if self._matches(stored, password):
            if refused is not None:
                return replace(self._failed(subject, taken, now), withheld=refused)
            kept = self._signed_in(subject, row.set_by, stored, password, bind=expected == "",
                                   row_hash=row.password_hash)  # fmt: skip
            return CheckResult("ok", row=kept)
        return self._failed(subject, taken, now)

    def _read(self, subject: str) -> _Read:
        """(row, its hash if its seal verifies, the trail's digest, whether the trail
        names another row). ``check`` reads again while the row verifies but the trail
        names a newer digest (``catalog.row_bindings.settle``): another sign-in's rehash
        or a set records its digest before it writes its row, and a sign-in reading in
        between was refused as tampered (401; stop 27's clean-clone run, three right
        sign-ins at once after a cost change)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_P.password_hash, _P.set_by, _P.locked_until).where(_P.subject == subject)
            ).first()
        if row is None:
            return None, None, None, False
        stored = self._unseal(subject, row.set_by, row.password_hash)
        expected, when = ("", None) if self._trail is None else self._trail.current(subject)
        digest = row_digest(subject, row.set_by, row.password_hash)
        superseded = expected is None or bool(
            expected and not hmac.compare_digest(expected, digest)
        )
        if superseded and when is not None and self._clock() - when < _YOUNG:
            mark_young()  # recorded just now: perhaps a set or rehash about to write
        return row, stored, expected, superseded

    def _signed_in(self, subject: str, set_by: str, stored: str, password: str,
                   *, bind: bool, row_hash: str) -> str:  # fmt: skip
        """Clear the failures; rehash when the parameters moved on. The trail learns the
        row's digest when it changed (rehash) or was never recorded (``bind``). Returns
        the sealed row left for the password verified (``row_hash``, its rehash, or the
        rehash another sign-in wrote first).

        A rehash replaces the row read (``row_hash``) only if it is still there: two
        right sign-ins at once each recorded their own new digest, then wrote their row,
        and when the writes landed in the other order the row matched an older digest
        and the account was refused as tampered (red team 18). The sign-in that lost
        puts the digest of the row that won on the trail after it, if that row holds
        the password it verified: not a row an insider wrote in the window."""
        values: dict[str, object] = {"failed_count": 0, "locked_until": None}
        how = "bound" if bind else ""
        if self._hasher.check_needs_rehash(stored):
            values["password_hash"] = self._seal(subject, set_by, self._hasher.hash(password))
            how = "rehashed"
        if how and self._trail is not None:
            sealed = str(values.get("password_hash") or self._current_row(subject))
            self._trail.record(subject=subject, actor=_setter(set_by), how=how,
                               digest=row_digest(subject, set_by, sealed))  # fmt: skip
        where = [_P.subject == subject]
        if "password_hash" in values:
            where.append(_P.password_hash == row_hash)
        with self._engine.begin() as conn:
            won = conn.execute(update(local_passwords).where(*where).values(**values)).rowcount
        if "password_hash" not in values:
            return row_hash
        if won:
            return str(values["password_hash"])
        with self._engine.begin() as conn:  # another sign-in rehashed first: its row stays
            conn.execute(update(local_passwords).where(_P.subject == subject)
                         .values(failed_count=0, locked_until=None))  # fmt: skip
        won_row = self._current_row(subject)
        won_hash = self._unseal(subject, set_by, won_row)
        # only a re-made hash of the password just verified: a row written back behind
        # the gateway in the window (an old password's) stays refused (red team 19)
        if self._trail is not None and won_hash is not None and self._matches(won_hash, password):
            self._trail.record(subject=subject, actor=_setter(set_by), how="bound",
                               digest=row_digest(subject, set_by, won_row))  # fmt: skip
        return won_row

    def still_current(self, subject: str, row: str | None) -> bool:
        """Whether ``row`` (``CheckResult.row``) is still ``subject``'s password row.

        A sign-in verifies the password against the row it read, then creates its
        session: a reset in between (``set_password``: the leaked password's answer)
        deleted the sessions there were and recorded its moment *before* that session
        existed, so the old password's session outlived the reset (red team 55). Asked
        once the session exists: a reset that lands after this read deletes it."""
        with self._engine.connect() as conn:
            now = conn.execute(
                select(_P.password_hash).where(_P.subject == subject)
            ).scalar_one_or_none()  # fmt: skip
        if row is None or now is None:
            return False
        return hmac.compare_digest(str(now).encode(), row.encode())  # bytes: any text a row holds

    def _current_row(self, subject: str) -> str:
        with self._engine.connect() as conn:
            return str(conn.execute(
                select(_P.password_hash).where(_P.subject == subject)).scalar_one())  # fmt: skip

    def _take_attempt(self, subject: str, now: datetime) -> int | None:
        """This attempt's place in the count of failures, taken (an atomic ``+ 1``)
        before its password is verified; ``None`` when the account is locked or the
        ``max_failures`` places are all taken by attempts still being verified.

        Counted only after the verification (tens of milliseconds of argon2), every
        attempt that arrived meanwhile found the account unlocked and had its password
        verified too — a right one signed in and cleared the lock the wrong ones set:
        guesses sent at once were bounded by what the gateway verifies at once, not by
        ``max_failures`` (red team 55). A right password gives its place back
        (``_signed_in`` resets the count)."""
        # a lock over (``_failed``'s, or the last place's below) starts the count again
        over = and_(_P.locked_until.is_not(None), _P.locked_until <= now)
        free = and_(_P.locked_until.is_(None), _P.failed_count < self._max_failures)
        place = case((over, 1), else_=_P.failed_count + 1)
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(local_passwords)
                .where(_P.subject == subject, or_(free, over))
                # the last place locks at once, for ``lockout_s``: its attempt's ``_failed``
                # locks again, its right password unlocks, and an attempt that never ends
                # (its process killed in argon2) leaves a lock that ends by itself, not a
                # full count that refused every attempt until an admin's reset (red team 57)
                .values(failed_count=place,
                        locked_until=case((place >= self._max_failures, now + self._lockout),
                                          else_=None))
            ).rowcount  # fmt: skip
            if not taken:
                return None
            return int(conn.execute(
                select(_P.failed_count).where(_P.subject == subject)
            ).scalar_one())  # fmt: skip

    def _failed(self, subject: str, taken: int, now: datetime) -> CheckResult:
        """A wrong password at place ``taken`` of the count: the last place locks the
        account for ``lockout_s`` (and starts the count again for after the lock)."""
        if taken < self._max_failures:
            return CheckResult("wrong_password", failures=taken)
        until = now + self._lockout
        with self._engine.begin() as conn:
            conn.execute(update(local_passwords).where(_P.subject == subject)
                         .values(failed_count=0, locked_until=until))  # fmt: skip
        return CheckResult("locked", failures=taken, locked_until=until)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _burn(self, password: str) -> None:
        """The work of one verification, for a name without a password."""
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._matches(self._dummy, password)


def is_privileged(roles: object) -> bool:
    """Whether a user's roles include one of ``PRIVILEGED_ROLES``."""
    return isinstance(roles, (list, tuple, set, frozenset)) and any(
        role in PRIVILEGED_ROLES for role in roles)  # fmt: skip


def generate_password() -> str:
    """A random password for a demo user: 16 characters, easy to copy."""
    return secrets.token_urlsafe(12)


def demo_console_passwords(services: Services) -> dict[str, str]:
    """``sluice demo``: new passwords for the demo users, each change on record as an
    administrator's is (``user.updated``, the password itself never)."""
    subjects = [user["subject"] for user in DEMO_USERS]
    accounts = LocalAccounts(engine=services.engine, key=console_key(services.settings.home),
                             trail=PasswordTrail(services.audit))  # fmt: skip
    return set_demo_passwords(accounts, subjects)


def set_demo_passwords(accounts: LocalAccounts, subjects: list[str]) -> dict[str, str]:
    """A fresh random password for each demo user, stored hashed; returned once so
    ``sluice demo`` can print them (they are not kept anywhere in clear)."""
    chosen = {subject: generate_password() for subject in subjects}
    for subject, password in chosen.items():
        accounts.set_password(subject=subject, password=password, set_by="demo")
    return chosen
