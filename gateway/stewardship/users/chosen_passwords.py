"""Whether an admin chose a user's console password, on record: for the separations of
duties that keep a person off decisions about themselves.

An admin who chose a local account's console password can sign in as that account
(THREAT_MODEL, "Local console accounts"), so the account's conduct may be theirs. A
decision about that conduct is then about the admin too, and another person makes it:
the alert about it (``gateway.web.routes.audit._move``) — one admin made an analyst of
their own, read as her and closed the alert the officers would have seen — and the
lifting of an officer's suspension of it (``emergency.unsuspend``) (red team 56).

The trail is read through ``audit.follow`` (every verified body, in seq order), not by
a search of its index columns, which an insider of the audit database edits without
touching a body: a password event re-indexed under another name would not be found and
the admin would pass (red team 40's hiding class). A trail that does not verify above
what was indexed refuses (503), never lets the admin through.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from audit.log import AuditLog
from audit.records import password_change
from audit.sink import AuditSink


class PasswordSetters:
    """The index (``audit.follow.Consumer``): for each (setter, account), the first seq
    at which the setter set the account's console password. ``dump``/``loaded`` carry it
    in the follower's snapshot (``audit.follow_snapshot``); ``SNAPSHOT_VERSION`` moves
    whenever ``add`` keeps something else."""

    SNAPSHOT_VERSION: ClassVar[int] = 1

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], int] = {}

    def dump(self) -> list[list[Any]]:
        """``[[setter, account, seq], ...]``, sorted."""
        return [[setter, account, seq] for (setter, account), seq in sorted(self.first.items())]

    @classmethod
    def loaded(cls, facts: Any) -> Self:
        """The index ``dump`` described (``TypeError``/``ValueError`` if not)."""
        made = cls()
        for setter, account, seq in facts:
            made.first[(str(setter), str(account))] = int(seq)
        return made

    def add(self, event: dict[str, Any]) -> None:
        change, actor = password_change(event), event.get("actor")
        if change is None or change[1].get("password") != "set" or not isinstance(actor, dict):
            return
        key = (str(actor.get("sub")), change[0])
        self.first.setdefault(key, int(event.get("seq") or 0))


def chose_password_of(
    audit: AuditSink, handler: str, actor: str, upto_seq: int | None = None
) -> bool:
    """Whether ``handler`` set ``actor``'s console password on record, at or before
    ``upto_seq`` (an alert's last event; None: ever). A stand-in trail holds nothing."""
    if not isinstance(audit, AuditLog):
        return False
    if handler.strip().casefold() == actor.strip().casefold():
        return False  # the callers' own-account test answers for that
    with audit.followers.of(PasswordSetters).caught_up() as setters:
        seq = setters.first.get((handler, actor))
    return seq is not None and (upto_seq is None or seq <= upto_seq)
