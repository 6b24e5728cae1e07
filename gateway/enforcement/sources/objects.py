"""What a catalog entry reads, comparable across entries and sources: the system (its
effective target) and the object in it.

A security officer freezes one entry, but what the freeze stops is the entry's source
object: another entry over the same object — of the same source, of another
registration of the same system, an HTTP endpoint or a file under another object name —
reads the frozen data all the same (red team 10). Registration refuses to publish such
an entry while the freeze stands (``stewardship.registration.frozen``); the broker
refuses to query one that was published before it (``query.broker``). Both compare
entries by these two keys.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Collection, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from adapters.base import ANY_TABLE
from adapters.http_config import path_segments
from audit.sink import AuditSink
from catalog.entries import CatalogEntry, load_entry
from catalog.models import Dataset
from catalog.service import DEREGISTERED
from gateway.enforcement.sources.freezes_on_record import frozen_on_record
from gateway.enforcement.sources.targets import (
    FILE_KINDS,
    EffectiveTarget,
    from_tombstone,
    stored_target,
)


def system_of(kind: str, settings: Mapping[str, Any]) -> EffectiveTarget | None:
    """The system a source reaches; a deregistered one's as its tombstone kept it."""
    tombstone = settings.get(DEREGISTERED)
    if tombstone is not None:
        return from_tombstone(tombstone.get("target") if isinstance(tombstone, dict) else None)
    return stored_target(kind, dict(settings))


def location_of(kind: str, settings: Mapping[str, Any], object_name: str) -> tuple[str, ...] | None:
    """What an entry's object reads, comparable across entries: an HTTP endpoint by the
    path it requests (the steward names endpoints: ``persons`` at ``/people`` is
    ``people``), a file by its real path (``sub/people.csv`` of one root is
    ``people.csv`` of the root below), a table by its schema and name, case folded.
    None for a withdrawn source: its tombstone keeps the system, not the objects, so
    every object of that system is taken as its frozen entry's."""
    if DEREGISTERED in settings:
        return None
    if kind == "http":
        url = _http_url(settings, object_name)
        if url is not None:
            return ("http", *path_segments(urllib.parse.urlsplit(url).path))
    if kind in FILE_KINDS:
        root, single = settings.get("root"), settings.get("path")
        base = root if isinstance(root, str) else os.path.dirname(str(single or ""))
        if base:
            return ("file", os.path.realpath(os.path.join(base, object_name)))
    schema = settings.get("schema")
    return ("name", str(schema or "").casefold(), object_name.casefold())


def _http_object(settings: Mapping[str, Any], object_name: str) -> dict[str, Any] | None:
    """An HTTP source's settings of one object; None for one they do not name."""
    return next((obj for obj in settings.get("objects") or ()
                 if isinstance(obj, dict) and obj.get("name") == object_name), None)  # fmt: skip


def _http_url(settings: Mapping[str, Any], object_name: str) -> str | None:
    """The URL the adapter requests for an HTTP object (``HttpSettings.url_for``);
    joining the paths alone made ``//people`` of a base without a path a host (red
    team 13). None for an object the settings do not name."""
    obj = _http_object(settings, object_name)
    return None if obj is None else _url_of(settings, obj)


def _url_of(settings: Mapping[str, Any], obj: Mapping[str, Any]) -> str:
    return str(settings.get("base_url") or "").rstrip("/") + "/" + str(
        obj.get("path") or "").lstrip("/")  # fmt: skip


@dataclass(frozen=True)
class SourceView:
    """A source as entries are compared by: its system is resolved once, when first
    needed (resolving it may ask DNS), and shared by every comparison of the source."""

    source_id: str
    kind: str
    settings: Mapping[str, Any]
    identity: str | None = None  # the server and database its connections reached
    department: str | None = None

    def same_system(self, other: SourceView) -> bool:
        """Both reach the same data: by their targets, or — PostgreSQL, where addresses
        are no identity (red teams 7, 8) — by the server and database their connections
        said they reached: a second registration of a frozen table's database through a
        LAN address or a relay served it again (red team 13)."""
        if self.identity is not None and self.identity == other.identity:
            return True
        mine, theirs = self.system, other.system
        return mine is not None and theirs is not None and mine.same_system(theirs)

    @property
    def system(self) -> EffectiveTarget | None:
        """Kept only once told: the broker holds the frozen entries' views for a whole
        catalog generation, and a host name that failed to resolve once (an outage)
        kept then took no other source's entry for the frozen system until the next
        catalog write (red team 12); such a name is asked again, as before."""
        kept: EffectiveTarget | None = self.__dict__.get("_system")
        if kept is not None:
            return kept
        found = system_of(self.kind, self.settings)
        if found is not None and (not found.network or found.addresses):
            self.__dict__["_system"] = found  # frozen dataclass: its own cache, no field
        return found

    @property
    def told(self) -> bool:
        """Whether the system is known now (a name that did not resolve is not)."""
        return self.system is not None and "_system" in self.__dict__

    def location(self, object_name: str) -> tuple[str, ...] | None:
        return location_of(self.kind, self.settings, object_name)


@dataclass(frozen=True)
class FrozenObject:
    """A frozen entry and what it reads."""

    entry_id: str
    object_name: str
    source: SourceView
    fields: frozenset[str] = frozenset()  # the entry's field names
    personal: frozenset[str] = frozenset()  # those with a PI category or a mask override
    whole: bool = False  # its row does not verify: every entry of its system is held
    gone: bool = False  # frozen on record, its rows deleted or unverified: its department's
    reads: frozenset[str] | None = None  # the tables its object reads (``CatalogEntry.reads``)

    def held_by(
        self, source: SourceView, object_name: str, fields: Collection[str] | None = None,
        reads: Collection[str] | None = None,
    ) -> bool:  # fmt: skip
        """Whether an entry reading ``object_name`` of ``source`` (with ``fields``, when
        told) reads this frozen object, or may show part of its rows under another name:
        of one system, with fields among its own (``shows_part_of``: a view or a copy of
        the table, red team 45). Entries of one source compare by object alone; of two
        sources, when both reach the same system — and, while either system cannot be
        told (a host name that does not resolve), when a source of the same kind reads
        the same location: a steward who runs the frozen host's DNS could otherwise make
        its name fail and serve the frozen object through a source registered by address
        (red team 13).
        Only the frozen entry's department's sources are held so (only its stewards
        register its systems): another department's same-named table is not.
        ``reads``: the tables the entry's object reads (``reads_alike``), when told: a
        view of the frozen table that drops a column and adds one is nested neither
        way by names (red team 48)."""
        if self.gone:
            return self.source.department in (None, source.department)
        part = self.whole or (fields is not None and shows_part_of(fields, self))
        if (part or self._reads_with(reads)) and one_system(source, self.source):
            return True
        where, there = source.location(object_name), self.source.location(self.object_name)
        if source.source_id == self.source.source_id or source.same_system(self.source):
            return where is None or there is None or same_location(where, there)
        if (source.told and self.source.told) or source.kind != self.source.kind:
            return False
        if None not in (source.department, self.source.department) and (
            source.department != self.source.department
        ):  # only the frozen entry's department registers copies of its system
            return False
        return where is not None and there is not None and same_location(where, there)

    def _reads_with(self, reads: Collection[str] | None) -> bool:
        """Whether an entry reading the tables ``reads`` (when told) may show this
        personal entry's data (``reads_alike``; ``one_system`` is asked by the caller)."""
        if reads is None or self.reads is None or not self.personal:
            return False
        mine = frozenset(reads)
        return bool(mine & self.reads) or ANY_TABLE in mine | self.reads


def same_location(one: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """Whether two locations of one system may be the same object. A table named
    without a schema is read in its connection's default schema (``main``, ``public``,
    the MySQL database, a login's ``search_path``), which the gateway cannot tell apart
    from one spelled out: ``("", t)`` is taken for ``t`` of any schema — a second
    registration naming ``"schema": "main"`` served a frozen table again (red team 13)."""
    if one[0] == other[0] == "name" and not (one[1] and other[1]):
        return one[2:] == other[2:]
    return one == other


def frozen_holding(
    frozen: Iterable[FrozenObject], source: SourceView, entry_id: str, object_name: str,
    fields: Collection[str] | None = None, reads: Collection[str] | None = None,
) -> str | None:  # fmt: skip
    """The frozen entry, other than ``entry_id``, whose object an entry reading
    ``object_name`` of ``source`` (with ``fields``, reading the tables ``reads``) reads
    too; None when there is none. A frozen entry whose row cannot say what it reads
    (``whole``) holds itself too: its row may say it is not frozen (red team 53)."""
    return next((f.entry_id for f in frozen
                 if (f.whole or f.entry_id != entry_id)
                 and f.held_by(source, object_name, fields, reads)),
                None)  # fmt: skip


def systems_told(frozen: Iterable[FrozenObject], source: SourceView) -> bool:
    """Whether every system a comparison of ``source`` with ``frozen`` needed was told:
    an answer reached while one was not (a name that did not resolve) holds for that
    moment only and is not kept for the catalog generation (red team 13)."""
    others = [f for f in frozen if f.source.source_id != source.source_id]
    return not others or (source.told and all(f.source.told for f in others))


def frozen_objects(conn: Connection | Session, trail: AuditSink | None) -> tuple[FrozenObject, ...]:
    """Every frozen entry with its source and fields, as the catalog's verified read has
    them (most of the time none). A session flushes what it holds first, as its reads
    do. ``trail``: where the entries frozen on record are read (``freezes_on_record``),
    by every caller alike. A frozen entry — by its row or on record — whose row no
    longer verifies cannot say what it reads or which of its fields are personal: it
    holds every entry of its system (``FrozenObject.whole``); one whose row verifies and
    says it is not frozen was lifted; one the trail names whose rows are gone holds
    every entry of the department its freeze recorded (``gone``) — no path of the
    gateway's deletes an entry (red team 48: the rows' ``frozen_at`` cleared, every
    field made "nothing personal", or the rows deleted, freed its copies and views) —
    and so does one on record whose row no longer verifies, whose source it names may be
    another department's (red team 49). One on record whose row verifies and says it
    is not frozen was *not* lifted (a lift is on record first, ``dataset.unfrozen``): its
    row is a state from before the freeze put back — an insider unsealed the row, the
    officer froze the tampered entry (a write to a row that does not verify is neither
    sealed nor bound, so the trail's newest binding stayed the state before the edit),
    and the insider wrote that state back, freeing the entry and its copies with nothing
    on the trail (red team 53). It holds every entry of its system, itself included
    (``whole``), until it is frozen again through the gateway and then lifted."""
    on_record = frozen_on_record(trail)
    connection = conn.connection() if isinstance(conn, Session) else conn
    rows = connection.execute(select(Dataset.id).where(Dataset.frozen_at.is_not(None))).all()
    found = []
    for entry_id in dict.fromkeys([*(str(r[0]) for r in rows), *sorted(on_record)]):
        entry = load_entry(connection, entry_id)
        if entry is None or not _verified(entry):
            found.extend(_unverified(entry_id, entry, on_record))
        elif entry.frozen:
            found.append(_read(entry))
        elif entry_id in on_record:
            found.append(replace(_read(entry), whole=True))  # a row put back: see below
    return tuple(found)


def _unverified(
    entry_id: str, entry: CatalogEntry | None, on_record: Mapping[str, str | None]
) -> list[FrozenObject]:
    """What a frozen entry whose rows are gone, or no longer verify, holds: its system
    as its row names it, and — frozen on record — every entry of the department its
    freeze recorded (``gone``): the row's ``source_id`` is as unverified as the rest of
    it, and an insider who re-pointed it at another department's source moved the hold
    to that system and freed the copy and the view of the frozen table (red team 49)."""
    held = [] if entry is None else [replace(_read(entry), whole=True)]
    if entry_id in on_record:
        department = SourceView("", "", {}, None, on_record[entry_id])
        held.append(FrozenObject(entry_id, "", department, gone=True))
    return held


def personal(category: object, override: object) -> bool:
    """Whether a field names or describes people: a PI category, or a steward's mask
    (policy takes either for a sensitive field)."""
    return category not in (None, "", "none") or bool(override)


def _names(fields: Mapping[str, bool]) -> tuple[frozenset[str], frozenset[str]]:
    """Field names, and those that are personal (``personal``)."""
    return frozenset(fields), frozenset(n for n, p in fields.items() if p)


def reading_the_same(
    conn: Connection, entry_ids: Iterable[str], among: Mapping[str, str | None],
    generation: int | None = None, *, unverified: bool = True,
    memo: MutableMapping[str, CatalogEntry | None] | None = None,
) -> dict[str, frozenset[str]]:  # fmt: skip
    """By entry of ``entry_ids``, the entries of ``among`` that read the same object —
    itself included — as a freeze compares them (``FrozenObject.held_by``), within one
    department; and those of the same system one of which shows part of the other's
    personal data (a view or a copy of the table under another name: ``shows_part_of``,
    red team 45). A grant names one entry, but what it releases is the object's values:
    another entry over the same table shows them masked with the same case's tokens,
    which the granted entry's clear rows then decode (red team 41).

    ``among``: each entry with its department as a record an insider cannot rewrite
    unnoticed tells it (a sealed grant row, the trail), None when none does. The catalog
    rows say what an entry reads, and an insider who can write them can make a copy
    read "something else", or delete it: an entry of ``among`` that is gone or whose row
    (or its source's) no longer verifies is taken for a copy of every entry of that
    department (of every entry when it is not known) — fail closed, as for a grant.
    Without ``unverified``, such an entry reads the same as itself only, and entries
    that verify read the same object only when they surely do (``surely_same``): for a
    caller to whom "the same data" means "known already", where more is less checked
    (``grants.granted_fields_anywhere``'s ``surely``, red teams 42 and 43).

    ``memo``: entries a caller loaded already in this check (``entry_of``)."""
    wanted = list(dict.fromkeys(entry_ids))
    loaded = {e: entry_of(conn, e, generation, memo) for e in dict.fromkeys([*wanted, *among])}
    found: dict[str, frozenset[str]] = {}
    for entry in wanted:
        mine = loaded[entry]
        found[entry] = frozenset({entry} | {
            other for other, department in among.items()
            if other != entry and _same(mine, loaded[other], department, unverified)})  # fmt: skip
    return found


def same_names(
    conn: Connection, one: str, other: str, generation: int | None,
    memo: MutableMapping[str, CatalogEntry | None] | None = None,
) -> bool:  # fmt: skip
    """Whether two entries surely read one object (``surely_same``), so a field of one
    is the field of the same name of the other. A view or a copy under another name
    (``reading_the_same``) may call its columns anything: ``SELECT name AS id_number,
    id_number AS name FROM dibao_recipients`` (red team 48)."""
    mine, theirs = entry_of(conn, one, generation, memo), entry_of(conn, other, generation, memo)
    if not (_verified(mine) and _verified(theirs)):
        return False
    assert mine is not None and theirs is not None
    return surely_same(_read(mine), _read(theirs))


def personal_fields(
    conn: Connection, entry_id: str, generation: int | None,
    memo: MutableMapping[str, CatalogEntry | None] | None = None,
) -> frozenset[str]:  # fmt: skip
    """The entry's personal fields (``personal``) as its verified row has them; every
    field of it when it no longer verifies (it cannot say which are)."""
    entry = entry_of(conn, entry_id, generation, memo)
    if entry is None:
        return frozenset()
    found = _read(entry)
    return found.personal if _verified(entry) else found.fields


def entry_of(
    conn: Connection, entry_id: str, generation: int | None,
    memo: MutableMapping[str, CatalogEntry | None] | None,
) -> CatalogEntry | None:  # fmt: skip
    """``load_entry``, once per entry for a caller that keeps a ``memo``: one approval
    or comparison check asks about the same entries two to four times (both answers of
    ``granted_fields_both_ways``, then each entry's fields), and without a catalog
    generation each ask was a read and a seal check of its own."""
    if memo is None:
        return load_entry(conn, entry_id, generation=generation)
    if entry_id not in memo:
        memo[entry_id] = load_entry(conn, entry_id, generation=generation)
    return memo[entry_id]


def _same(
    mine: CatalogEntry | None, theirs: CatalogEntry | None, recorded: str | None,
    unverified: bool,
) -> bool:  # fmt: skip
    if _verified(mine) and _verified(theirs):
        assert mine is not None and theirs is not None
        if mine.department != theirs.department:
            return False
        ours, other = _read(mine), _read(theirs)
        if unverified and reads_alike(ours, other):
            return True
        if unverified:
            # either way: a grant of the table counts for its view, and of the view for it;
            # a field personal on either entry counts: the granted one's steward made every
            # field of it "nothing personal" after its grant was read, and its view's case
            # tokens decoded by what the grant had shown were free again (red team 48)
            either = ours.personal | other.personal
            ours, other = replace(ours, personal=either), replace(other, personal=either)
            return ours.held_by(other.source, other.object_name, other.fields) or (
                other.held_by(ours.source, ours.object_name, ours.fields)
            )
        return surely_same(ours, other)
    if not unverified:
        return False
    departments = {
        mine.department if _verified(mine) and mine is not None else None,
        theirs.department if _verified(theirs) and theirs is not None else recorded,
    }
    return None in departments or len(departments) == 1


def one_system(mine: SourceView, theirs: SourceView) -> bool:
    """Whether two sources reach one system (one source, or two the gateway can tell
    reach the same server and database, file tree or API)."""
    return mine.source_id == theirs.source_id or mine.same_system(theirs)


def reads_alike(one: FrozenObject, other: FrozenObject) -> bool:
    """Whether two entries of one system may show the same personal data because their
    objects read a table in common, as the source's planner told it at their drafts or
    last refreshes (``adapters.sql_lineage``): a view is its table's data whatever its
    columns are called. By names, a view that drops a column of the granted roll and
    adds a constant one was nested neither way, and one that swapped ``name`` and
    ``id_number`` was the roll with its fields the wrong way round: both were codebooks
    (red team 48). An object whose reads the source could not tell (``ANY_TABLE``: a
    view over a user function or a virtual table) may read any table of its system.
    One of them must hold something personal (a region lookup beside the roll shares
    nothing worth a grant). Entries whose source told nothing (files, endpoints, drafts
    from before 0023) are left to the name rules."""
    together = one._reads_with(other.reads) or other._reads_with(one.reads)
    return together and one_system(one.source, other.source)


def shows_part_of(fields: Collection[str], entry: FrozenObject) -> bool:
    """Whether an entry with ``fields`` may show part of ``entry``'s data under another
    name, as a view or a copy of its table does: every field of it among ``entry``'s
    (``SELECT *`` with fewer rows, a narrower view), one of them personal there.
    Within one system (``one_system``) such an object may hold the other's rows, and
    the copies rule (``reading_the_same``) and a freeze told "the same data" by the
    object read: ``CREATE VIEW dibao_view AS SELECT * FROM dibao_recipients``, listed
    by introspection and published like a table, counted as other data — a grant of
    the roll's numbers counted nowhere for the view, whose tokens the roll's clear rows
    then decoded, and finance's with them, and a freeze of the roll left the view
    serving it (red team 45). The gateway cannot read a view's definition on every kind
    of source, so this is by field names: two tables of one database whose fields are
    not so nested (the dibao roll and the death registrations) stay apart, as do a
    lookup table of region codes (nothing personal) and a wide table that shows more
    than a frozen narrow one. A view that renames a column is not seen; one that adds a
    column is seen by the grants (they ask either way round), not by the freeze of its
    table."""
    names = frozenset(fields)
    return bool(names) and names <= entry.fields and bool(names & entry.personal)


def surely_same(one: FrozenObject, other: FrozenObject) -> bool:
    """Whether two entries surely read one object: of one source or of two that reach
    one system as far as the gateway can tell, and the same location spelt the same.
    ``held_by`` answers "may be the same" (a table named without a schema is taken for
    one of that name in any schema, names are case folded, a system that cannot be told
    is compared by location, a withdrawn source's objects are all its frozen entry's):
    right for a freeze, which it makes stop more; wrong where "the same data" means
    "known already" and waves a field through a check — a grant of ``people`` in the
    default schema counted for ``archive.people`` (and of ``/people?set=public`` for
    ``/people?set=archive``), and a comparison matched that table's masked key with one
    held in clear (red team 43)."""
    mine, theirs = one.source, other.source
    if not one_system(mine, theirs):
        return False
    where, there = mine.location(one.object_name), theirs.location(other.object_name)
    if where is None or there is None or where[0] != there[0]:
        return False
    if where[0] == "name":  # as spelt: ``""`` is no schema, ``People`` no ``people``
        return (str(mine.settings.get("schema") or ""), one.object_name) == (
            str(theirs.settings.get("schema") or ""), other.object_name)  # fmt: skip
    if where[0] == "http":  # as spelt, and the same rows of the answer (red team 44)
        spelt = [_http_spelt(view.settings, entry.object_name)
                 for view, entry in ((mine, one), (theirs, other))]  # fmt: skip
        return where == there and spelt[0] is not None and spelt[0] == spelt[1]
    return where == there


def _http_spelt(settings: Mapping[str, Any], object_name: str) -> tuple[str, str, str] | None:
    """An HTTP object's path and query as spelt, and the records it takes from the
    answer: ``location_of`` reads the path more alike than a server may (case folded,
    a segment's ``;`` parameters cut off — right for a freeze), so ``/People`` and
    ``/people;set=archive`` were ``/people``, and two objects of one answer told apart
    by ``records`` alone were one (red team 44, after red team 43's query string)."""
    obj = _http_object(settings, object_name)
    if obj is None:
        return None
    split = urllib.parse.urlsplit(_url_of(settings, obj))
    return split.path, split.query, str(obj.get("records") or "")


def _verified(entry: CatalogEntry | None) -> bool:
    return entry is not None and entry.sealed and entry.source.sealed


def _read(entry: CatalogEntry) -> FrozenObject:
    source = entry.source
    view = SourceView(source.id, source.kind, source.settings, source.server_identity,
                      entry.department)  # fmt: skip
    return FrozenObject(entry.id, entry.object_name, view, *_names(
        {f.name: personal(f.pi_category, f.mask_override) for f in entry.fields}),
        reads=entry.reads)  # fmt: skip
