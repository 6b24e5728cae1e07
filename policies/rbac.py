"""Who may call which operation: casbin RBAC with domains (domain = department).

The model is ``rbac_model.conf``; the default permissions (p lines) are
``rbac_policy.csv``; role assignments (g lines) live in the catalog database's
``casbin_rule`` table through ``sqlalchemy_adapter`` (migration 0003 creates it), each
line sealed under the deployment's row-seal key (``policies.sealed_rules``, 0017): a line
written behind the gateway is no assignment.

Changes without restart: every change made through an ``Authorizer`` bumps
``casbin_revision``; every ``refresh_s`` seconds ``check`` compares (revision, a digest
of every stored line) with what it loaded and reloads when they differ. Between those looks
``check`` is a dictionary lookup (answers are memoised per loaded policy); ``sync``
re-reads at once when the caller saw the catalog generation move (the ``casbin_rule``
table bumps it, migration 0008), so a revoked role governs the very next request.

Role names and subjects never collide: inside casbin a role is ``role:<name>`` (policy
lines and assignments alike), because casbin takes any name as linked to itself — a
user called ``admin`` would otherwise hold every permission of the ``admin`` role with
no assignment. Callers speak bare role names; the prefix stays in this module.
``is_reserved_subject`` names what no subject may be called (every role name, any
case or compatibility form, ``*``, anything with the ``role:`` prefix, and the trail's
actors that are no account: ``gateway``, ``cli:<login>``), and ``check`` refuses such a
subject outright.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import casbin
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from catalog.db import make_engine
from catalog.errors import Conflict, Forbidden, Unavailable, Unprocessable
from policies.sealed_rules import SealedAdapter

MODEL_PATH = Path(__file__).parent / "rbac_model.conf"
POLICY_PATH = Path(__file__).parent / "rbac_policy.csv"
ANY_DOMAIN = "*"
ROLES = ("analyst", "steward", "security_officer", "admin")
DEPARTMENT_ROLES = ("steward",)
"""Roles held in one department's domain; every other role is held in ``*``."""
ROLE_PREFIX = "role:"
RESERVED_SUBJECTS = frozenset({*ROLES, ANY_DOMAIN, "role", "system", "anonymous", "gateway"})
"""Subjects refused case-insensitively, besides any name starting with ``role:`` or
``cli:``. ``gateway`` and ``cli:<login>`` are the trail's actors that are no account (the
gateway itself; an operator at the command line): an account so named would have its
doings read as theirs (red team 8)."""
ACTOR_PREFIXES = ("cli:",)
AUDITORS = ("security_officer", "admin")
"""The roles that read, verify and export the audit trail and handle its alerts."""
EXCLUSIVE = {pair for auditor in AUDITORS
             for pair in (("analyst", auditor), (auditor, "analyst"))}  # fmt: skip
"""Separation of duties: whoever reads the trail never queries the data it records — a
subject never holds the analyst's role and an auditor's (the policy denies an officer's
queries anyway). An administrator holds every audit power the officer's exclusion is
about (``audit:read``, ``audit:verify``, ``audit:export``, ``alerts:read``, the emergency
actions): ``admin`` and ``analyst`` were not exclusive, and one account read the roll
under a case and the whole trail about it (red team 63)."""

_REVISION_SQL = text("SELECT revision FROM casbin_revision WHERE id = 1")
# every line as stored: a fingerprint of counts an insider could put back (red team 14)
_LINES_SQL = text("SELECT id, ptype, v0, v1, v2, v3, v4, v5, seal FROM casbin_rule ORDER BY id")
_BUMP_SQL = text("UPDATE casbin_revision SET revision = revision + 1 WHERE id = 1")


def is_reserved_subject(subject: str) -> bool:
    """Whether ``subject`` spells a role, a wildcard or the role namespace (any case)."""
    folded = unicodedata.normalize("NFKC", subject).strip().casefold()
    return (folded in RESERVED_SUBJECTS or folded.startswith((ROLE_PREFIX, *ACTOR_PREFIXES))
            or not folded)  # fmt: skip


def role_key(role: str) -> str:
    """The name casbin knows ``role`` by."""
    return ROLE_PREFIX + role


def _replace(assertion: Any, rules: list[list[str]]) -> None:
    """An in-memory casbin assertion's rules, with the index casbin keeps of them."""
    assertion.policy = rules
    assertion.policy_map = {",".join(rule): i for i, rule in enumerate(rules)}


@functools.cache
def _file_policy() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(rule) for rule in default_policy_lines())


def default_policy_lines(path: Path = POLICY_PATH) -> list[list[str]]:
    """The p lines of the default policy file, as casbin rules (without ``p``)."""
    rules = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, skipinitialspace=True):
            if row and row[0].strip() == "p":
                rules.append([cell.strip() for cell in row[1:]])
    return rules


class Authorizer:
    """The operation-level gate the gateway calls on every request (deny by default)."""

    def __init__(
        self,
        engine: Engine,
        *,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        model_path: Path = MODEL_PATH,
    ) -> None:
        self._engine = engine
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.RLock()
        self._adapter = SealedAdapter(engine)  # only lines a gateway sealed (0017)
        try:
            self._enforcer = casbin.Enforcer(str(model_path), self._adapter)
            self._pin_policy()
            self._fingerprint: tuple[object, ...] | None = self._read_fingerprint()
        except SQLAlchemyError as exc:
            raise Unavailable(f"role store unavailable: {exc.__class__.__name__}") from exc
        self._memo: dict[tuple[str, str, str], bool] = {}
        self._checked_at = clock()
        self._generation: int | None = None

    @classmethod
    def from_url(cls, db_url: str, **kwargs: object) -> Authorizer:
        """An Authorizer on the catalog database at ``db_url`` (already migrated)."""
        return cls(make_engine(db_url), **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------ hot path

    def check(self, *, subject: str, domain: str, action: str) -> None:
        """Raise ``Forbidden`` unless ``subject`` may do ``action`` in ``domain``."""
        if not self.allowed(subject=subject, domain=domain, action=action):
            raise Forbidden(
                f"'{subject}' may not {action} in domain '{domain}'",
                subject=subject,
                domain=domain,
                action=action,
            )

    def allowed(self, *, subject: str, domain: str, action: str) -> bool:
        """For listings and UI only; enforcement calls ``check``."""
        if is_reserved_subject(subject):
            return False
        self._maybe_reload()
        key = (subject, domain, action)
        memo = self._memo
        answer = memo.get(key)
        if answer is None:
            with self._lock:
                answer = bool(self._enforcer.enforce(subject, domain, action))
                if len(memo) > 100_000:
                    memo.clear()
                memo[key] = answer
        return answer

    def sync(self, generation: int) -> None:
        """The caller read catalog generation ``generation``: if it moved since the
        last call, look for changed assignments now rather than at the next tick."""
        if generation != self._generation:
            self._checked_at = float("-inf")
            self._maybe_reload()
            self._generation = generation

    def _maybe_reload(self) -> None:
        if self._clock() - self._checked_at < self._refresh_s:
            return
        with self._lock:
            now = self._clock()
            if now - self._checked_at < self._refresh_s:
                return
            try:
                current = self._read_fingerprint()
                if current != self._fingerprint:
                    self._load()
                    self._memo = {}
                    self._fingerprint = current
            except SQLAlchemyError as exc:
                raise Unavailable(f"role store unavailable: {exc.__class__.__name__}") from exc
            self._checked_at = now

    def _load(self) -> None:
        self._enforcer.load_policy()
        self._pin_policy()

    def _pin_policy(self) -> None:
        """What each role may call is the policy file's, never the database's copy: the
        ``p`` lines in ``casbin_rule`` (seeded for other readers) are replaced in memory
        by the file's after every load, so one ``INSERT … ('p', 'role:analyst', '*',
        'users:manage', 'allow')`` by whoever can write the catalog governs nothing
        (red team 8). Assignments (``g`` lines) still come from the database."""
        rules = [list(rule) for rule in _file_policy()]
        model = self._enforcer.get_model().model
        _replace(model["p"]["p"], rules)
        # nor does a role inherit another (``g, role:analyst, role:admin``): the gateway
        # never writes a grouping whose subject is a role or a reserved name
        grouping = model["g"]["g"]
        kept = [rule for rule in grouping.policy if not is_reserved_subject(rule[0])]
        if len(kept) != len(grouping.policy):
            _replace(grouping, kept)
            self._enforcer.build_role_links()

    def _read_fingerprint(self) -> tuple[object, ...]:
        """The revision and a digest of every stored line (id, values, seal). Not the
        row count and highest id it once was: whoever writes the catalog could lower
        the revision and insert a junk line under a revoked line's id, and a replica
        that had not reloaded yet kept the revoked role for as long as it ran (red team
        14). Only the very lines it loaded compare equal. Cost: one read of the table
        per ``refresh_s`` per process (a few lines per user)."""
        digest = hashlib.sha256()
        with self._engine.connect() as conn:
            revision = conn.execute(_REVISION_SQL).scalar()
            for line in conn.execute(_LINES_SQL):
                digest.update(repr(tuple(line)).encode("utf-8", "surrogatepass"))
                digest.update(b"\n")
        return (revision, digest.hexdigest())

    def _changed(self) -> None:
        """After a write: tell other processes, and re-read on our next check."""
        with self._engine.begin() as conn:
            conn.execute(_BUMP_SQL)
        self._memo = {}
        self._checked_at = float("-inf")

    # ------------------------------------------------------------ administration

    def seed_defaults(self) -> int:
        """Load the default p lines that are missing; returns how many were added."""
        with self._lock:
            self._enforcer.load_policy()  # the database's copy, as it is
            missing = [r for r in default_policy_lines() if not self._enforcer.has_policy(*r)]
            if missing:
                self._enforcer.add_policies(missing)
                self._changed()
            self._pin_policy()
            return len(missing)

    def assign(self, *, subject: str, role: str, domain: str) -> None:
        """Give ``subject`` ``role`` in ``domain`` (idempotent)."""
        _validate(role=role, domain=domain)
        with self._lock:
            self._load()
            check_assignment(subject=subject, role=role, domain=domain,
                             held=self._roles(subject))  # fmt: skip
            self._enforcer.add_grouping_policy(subject, role_key(role), domain)
            # told to every process even when the line was there: one written back
            # after its removal governs again once given again (policies.sealed_rules)
            self._changed()

    def assign_all(self, assignments: Sequence[tuple[str, str, str]]) -> int:
        """``assign`` for each (subject, role, domain) in order, with one load of the lines
        and one write of the missing ones (one transaction, each line sealed as ``assign``
        seals it): the demo's users at every demo start. Returns how many were added."""
        with self._lock:
            self._load()
            added: list[list[str]] = []
            for subject, role, domain in assignments:
                rule = [subject, role_key(role), domain]
                if rule in added or self._enforcer.has_grouping_policy(*rule):
                    continue  # held: left as it is, as ``assign`` would not be called
                held = self._roles(subject) + [
                    (r.removeprefix(ROLE_PREFIX), d) for s, r, d in added if s == subject
                ]
                check_assignment(subject=subject, role=role, domain=domain, held=held)
                added.append(rule)
            if added and self._enforcer.add_grouping_policies(added):
                self._changed()
            return len(added)

    def unassign(self, *, subject: str, role: str, domain: str) -> None:
        """Take ``role`` in ``domain`` away from ``subject`` (idempotent)."""
        with self._lock:
            self._load()
            line = [subject, role_key(role), domain]
            removed = self._enforcer.remove_grouping_policy(*line)
            # a line casbin did not load (unsealed, or written back after the trail
            # said it was removed: policies.sealed_rules) leaves the table all the same
            if self._adapter.remove_policy("g", "g", line) or removed:
                self._changed()

    def roles_of(self, subject: str) -> list[tuple[str, str]]:
        """``[(role, domain), ...]`` held by ``subject``, sorted."""
        self._maybe_reload()
        with self._lock:
            return self._roles(subject)

    def _roles(self, subject: str) -> list[tuple[str, str]]:
        rules = self._enforcer.get_filtered_grouping_policy(0, subject)
        return sorted(
            (r[1].removeprefix(ROLE_PREFIX), r[2]) for r in rules if r[1].startswith(ROLE_PREFIX)
        )


def check_assignment(*, subject: str, role: str, domain: str, held: list[tuple[str, str]]) -> None:
    """What ``Authorizer.assign`` refuses, asked before anything is written: a caller
    records the change on the audit trail first, then makes it (red team 8)."""
    _validate(role=role, domain=domain)
    if is_reserved_subject(subject):
        raise Unprocessable(f"{subject!r} is a reserved name, not a subject")
    for have, _dom in held:
        if (have, role) in EXCLUSIVE:
            raise Conflict(
                f"separation of duties: '{subject}' holds {have} and cannot be {role}",
                subject=subject,
            )


def _validate(*, role: str, domain: str) -> None:
    if role not in ROLES:
        raise Unprocessable(f"unknown role '{role}' (one of {', '.join(ROLES)})")
    if role in DEPARTMENT_ROLES and domain == ANY_DOMAIN:
        raise Unprocessable(f"a {role} is assigned in one department's domain, not '*'")
    if role not in DEPARTMENT_ROLES and domain != ANY_DOMAIN:
        raise Unprocessable(f"the {role} role is held in domain '*', not '{domain}'")
    if not domain or any(c.isspace() or c == "," for c in domain):
        raise Unprocessable(f"bad domain {domain!r}")
