"""Each subject's password events, indexed from the verified audit trail: what the
console's password and session checks read (``passwords.PasswordTrail``).

Those checks found a subject's ``user.updated {"password": …}`` events by a search of
the trail's index columns (``resource``, ``type``). An insider of the audit database
edits a column without touching a hashed body: carl's reset, re-indexed under another
name, was not found, the newest set found was older than a session row written back,
and a copied cookie opened the console again (red team 57; red team 40's hiding class,
closed there for the approval checks). So they read this index instead, which
``audit.follow`` feeds with every body whose chain, hash, seq and MAC verified, in seq
order; the subject is the body's ``resource``, never a column. A trail that does not
verify above what was indexed refuses the read (``TrailBroken``): ``PasswordTrail``
then takes what this index holds (verified below the failure) and, above it only, the
search it made before, each event believed only if a gateway wrote it at its seq.

Kept per subject, newest first, what the checks decide on: the password events up to
and including the newest one that carries a ``digest`` (older ones decide nothing), each
its ``details`` and ``ts``. A new event with a digest replaces the list; one without is
put in front of it. Memory grows with the accounts, not with the trail.

And, apart, each subject's newest ``set`` (a reset): a right sign-in after a change of
the argon2 parameters records ``rehashed`` with a digest, which emptied the list of the
reset before it, and ``reset_at`` answered "never reset": the session row the reset
deleted, written back by an insider of the catalog database, opened the console again
with a copied cookie (red team 58). A session is over if it started no later than the
newest reset, whatever digest events came after it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from audit.records import password_change


class PasswordEvents:
    """The index (``audit.follow.Consumer``). ``dump``/``loaded`` carry it in the
    follower's snapshot (``audit.follow_snapshot``); ``SNAPSHOT_VERSION`` moves whenever
    ``add`` keeps something else."""

    SNAPSHOT_VERSION: ClassVar[int] = 2  # 2: the newest reset kept apart (red team 58)

    def __init__(self) -> None:
        self.kept: dict[str, list[dict[str, Any]]] = {}  # subject -> events, newest first
        self.sets: dict[str, dict[str, Any]] = {}  # subject -> their newest ``set``

    def add(self, event: dict[str, Any]) -> None:
        change = password_change(event)
        if change is None:
            return
        subject, details = change
        found = details | {"ts": event.get("ts")}
        if details.get("password") == "set":
            self.sets[subject] = found
        if "digest" in details:  # what came before decides nothing any more
            self.kept[subject] = [found]
        else:
            self.kept.setdefault(subject, []).insert(0, found)

    def events_of(self, subject: str) -> list[dict[str, object]]:
        """A copy of ``subject``'s kept events, newest first (the index goes on growing
        after the follower's lock is released)."""
        return [dict(event) for event in self.kept.get(subject, ())]

    def newest_set(self, subject: str) -> dict[str, object] | None:
        """A copy of ``subject``'s newest ``set`` event (details with ts), if any."""
        found = self.sets.get(subject)
        return None if found is None else dict(found)

    def dump(self) -> dict[str, Any]:
        """``{"events": {subject: [details with ts, ...]}, "sets": {subject: details with
        ts}}``, events newest first, subjects sorted."""
        return {
            "events": {s: [dict(e) for e in events] for s, events in sorted(self.kept.items())},
            "sets": {s: dict(event) for s, event in sorted(self.sets.items())},
        }

    @classmethod
    def loaded(cls, facts: Any) -> Self:
        """The index ``dump`` described (``KeyError``/``TypeError``/``ValueError`` if
        not)."""
        made = cls()
        for subject, events in dict(facts["events"]).items():
            made.kept[_subject(subject)] = [_event(event) for event in events]
        for subject, event in dict(facts["sets"]).items():
            made.sets[_subject(subject)] = _event(event)
        return made


def _subject(subject: object) -> str:
    if not isinstance(subject, str):
        raise ValueError("not a password event index")
    return subject


def _event(event: Any) -> dict[str, Any]:
    found = dict(event)
    if "password" not in found:
        raise ValueError("not a password event index")
    return found
