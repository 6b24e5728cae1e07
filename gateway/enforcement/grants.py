"""The grants enforcement honours: approved, unexpired access requests, read as the
policy input wants them. Stewardship writes requests (``gateway.stewardship.grants``);
enforcement only reads what they became, and only rows a gateway sealed
(``catalog.grant_seals``): an approved grant written or edited behind the gateway is no
grant."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from audit.sink import AuditSink
from catalog.access_requests import AccessRequest
from catalog.entries import CatalogEntry
from catalog.grant_seals import ACCESS_REQUESTS, sealed_only
from gateway.enforcement.grants_on_trail import approvals_on_trail
from gateway.enforcement.sources.objects import (
    entry_of,
    personal_fields,
    reading_the_same,
    same_names,
)
from policies.inputs import grant_input


def active_grants(
    *,
    conn: Connection,
    subject: str,
    dataset_id: str,
    now: datetime,
    purpose: str | None,
    case_ref: str | None,
) -> list[dict[str, Any]]:
    """Approved, unexpired grants of one user on one dataset for this purpose and case,
    as the policy input wants. A grant is approved for a case: it never unmasks data
    under another case reference or purpose (data used within its stated scope)."""
    rows = approved_grant_rows(
        conn=conn, subject=subject, dataset_id=dataset_id, purpose=purpose, case_ref=case_ref
    )
    return unexpired_grants(rows, now)


def approved_grant_rows(
    *, conn: Connection, subject: str, dataset_id: str, purpose: str | None,
    case_ref: str | None, generation: int | None = None,
) -> tuple[Any, ...]:  # fmt: skip
    """The approved requests themselves, whatever their expiry: what may be cached until
    the catalog generation moves (expiry is checked against the clock on every use).
    Only those whose seal verifies and that the trail names as their newest state
    (``generation``: the catalog generation read, so the trail is read once per
    generation); the others are logged and left out (fail closed)."""
    table = AccessRequest.__table__.c
    scope = (table.dataset_id == dataset_id, table.purpose == (purpose or ""),
             table.case_ref == (case_ref or ""))  # fmt: skip
    return _approved(conn, subject, scope, generation)


def granted_fields_anywhere(
    *, conn: Connection, subject: str, dataset_ids: Iterable[str],
    trail: AuditSink | None = None, generation: int | None = None, surely: bool = False,
) -> dict[str, dict[str, str]]:  # fmt: skip
    """Each field a grant of ``subject`` ever released on each of ``dataset_ids``, under
    any case and purpose, with the case of one such grant (by entry, then field). A
    grant unmasks only under its own case, but what its holder read there they know
    everywhere: matched in another case against a key masked to them, it would spell
    that key's values (red team 38) — and they know it still once the grant expired or
    they gave it back (red team 39: ``known_rows``). With ``trail``, also what its
    approvals say whatever became of the rows (``grants_on_trail``).

    A grant names an entry, but its holder knows the values of the object it reads: a
    grant of another entry of the same department over the same object (a copy of the
    table for another team, ``objects.reading_the_same``) counts for this one's field of
    the same name — its tokens under a case were decoded by the granted entry's clear
    rows, and finance's with them (red team 41); an entry whose row an insider edited or
    deleted counts as a copy of every entry of its department (fail closed).

    ``surely``: what the subject surely knows, for a caller that checks a field *less*
    because it counts as granted (the approval checks: ``read_tokens`` skips such a
    field, ``compared_keys`` takes such a key for one held in clear). There, the answer
    above fails open: an insider's edit of one granted entry's row made the same-named
    field of every entry of its department "granted", and an approval the checks must
    refuse went through unchecked (red team 42). So an entry that no longer verifies
    counts for itself only; copies that verify count where they surely read the same
    object (``objects.surely_same``: not a same-named table of another schema, red
    team 43)."""
    wanted = list(dict.fromkeys(dataset_ids))
    found, departments = _granted_entries(conn, subject, trail, generation)
    return _spread(conn, wanted, found, departments, generation, unverified=not surely)


def granted_fields_both_ways(
    *, conn: Connection, subject: str, dataset_ids: Iterable[str],
    trail: AuditSink | None = None,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:  # fmt: skip
    """``granted_fields_anywhere``'s two answers, the grants read once: what some grant
    may release (an entry that no longer verifies a copy of every entry of its
    department) and what the subject surely holds (``surely``). A rule that must refuse
    when it cannot tell which (``comparison.access.check_keys_alike``) reads both."""
    wanted = list(dict.fromkeys(dataset_ids))
    found, departments = _granted_entries(conn, subject, trail, None)
    memo: dict[str, CatalogEntry | None] = {}  # both answers read the same entries
    return (
        _spread(conn, wanted, found, departments, None, unverified=True, memo=memo),
        _spread(conn, wanted, found, departments, None, unverified=False, memo=memo),
    )


def _granted_entries(
    conn: Connection, subject: str, trail: AuditSink | None, generation: int | None
) -> tuple[dict[str, dict[str, str]], dict[str, str | None]]:
    """By granted entry, each field with one grant's case; and each entry's department
    as its grant rows or the trail's requests recorded it."""
    table = AccessRequest.__table__.c
    rows = _sealed(conn, subject, (table.expires_at.is_not(None),), generation,
                   ("approved", "revoked"))  # fmt: skip
    found = granted_fields(rows)
    departments: dict[str, str | None] = {r.dataset_id: r.department for r in rows}
    for entry, on_trail in approvals_on_trail(trail, subject).items():
        departments.setdefault(entry, on_trail.department)
        for name, case in on_trail.fields.items():
            found.setdefault(entry, {}).setdefault(name, case)
    return found, departments


def _spread(
    conn: Connection, wanted: list[str], found: dict[str, dict[str, str]],
    departments: dict[str, str | None], generation: int | None, *, unverified: bool,
    memo: MutableMapping[str, CatalogEntry | None] | None = None,
) -> dict[str, dict[str, str]]:  # fmt: skip
    """The fields ``found`` grants, by entry of ``wanted``: its own, then its copies'.
    With ``unverified``, a granted field the entry no longer has may be one of its
    fields under another name (a column renamed at the source, the entry refreshed: the
    same values), which the gateway cannot tell from a new column: every field of the
    entry then counts (red team 42)."""
    granted: dict[str, dict[str, str]] = {d: {} for d in wanted}
    if not found:
        return granted
    memo = {} if memo is None else memo  # the copies' entries, then each wanted one's fields
    copies = reading_the_same(conn, wanted, departments, generation, unverified=unverified,
                              memo=memo)  # fmt: skip
    for dataset_id in wanted:
        for entry in [dataset_id, *sorted(copies[dataset_id] - {dataset_id})]:
            for name, case in found.get(entry, {}).items():
                granted[dataset_id].setdefault(name, case)
            if unverified and found.get(entry) and entry != dataset_id:
                _renamed(conn, granted[dataset_id], dataset_id, entry, found[entry],
                         generation, memo)  # fmt: skip
        names = field_names(conn, dataset_id, generation, memo) if granted[dataset_id] else set()
        gone = sorted(set(granted[dataset_id]) - (names or set()))
        if unverified and names is not None and gone:
            for name in names:
                granted[dataset_id].setdefault(name, granted[dataset_id][gone[0]])
    return granted


def _renamed(
    conn: Connection, granted: dict[str, str], dataset_id: str, copy: str,
    grants: dict[str, str], generation: int | None,
    memo: MutableMapping[str, CatalogEntry | None],
) -> None:  # fmt: skip
    """A grant on ``copy``, an entry that may show ``dataset_id``'s data under other
    names (a view of its table, ``objects.reading_the_same``, not surely one object):
    the view may call the granted column anything, so the grant counts for every
    personal field of ``dataset_id`` — a view swapping ``name`` and ``id_number``
    showed the granted numbers as its ``name``, masked with the case's tokens, which
    the granted roll's clear rows decoded (red team 48). Those fields' tokens are the
    holder's own there (``plan.granted_field_key``), the price of the view's other
    personal fields for that holder."""
    if same_names(conn, dataset_id, copy, generation, memo):
        return
    case = next(iter(grants.values()))
    for name in sorted(personal_fields(conn, dataset_id, generation, memo)):
        granted.setdefault(name, case)


def field_names(
    conn: Connection, entry: str, generation: int | None = None,
    memo: MutableMapping[str, CatalogEntry | None] | None = None,
) -> set[str] | None:  # fmt: skip
    """The entry's fields as the catalog's verified read has them; None when it has
    none to give (gone, or its row no longer verifies)."""
    loaded = entry_of(conn, entry, generation, memo)
    if loaded is None or not (loaded.sealed and loaded.source.sealed):
        return None
    return {f.name for f in loaded.fields}


def known_rows(
    *, conn: Connection, subject: str, dataset_ids: Iterable[str],
    generation: int | None = None,
) -> tuple[Any, ...]:  # fmt: skip
    """Every request of ``subject``'s on any of ``dataset_ids`` that was ever a grant, of
    every purpose and case: approved ones, expired or not, and those revoked after their
    approval (an approval is what sets ``expires_at``). Counting only the live ones, a
    holder revoked their own grant (or let it lapse) the moment they had read it, and
    what they had read in clear no longer counted as known (red team 39). The decision's
    own grants are ``in_scope`` of these: approved ones only."""
    table = AccessRequest.__table__.c
    scope = (table.dataset_id.in_(list(dataset_ids)), table.expires_at.is_not(None))
    return _sealed(conn, subject, scope, generation, ("approved", "revoked"))


def in_scope(rows: tuple[Any, ...], purpose: str | None, case_ref: str | None) -> tuple[Any, ...]:
    """The approved rows for this purpose and case (``active_grants``' scope): a revoked
    grant among ``rows`` (``known_rows``) unmasks nothing."""
    return tuple(r for r in rows if r.status == "approved" and r.purpose == (purpose or "")
                 and r.case_ref == (case_ref or ""))  # fmt: skip


def granted_fields(rows: tuple[Any, ...]) -> dict[str, dict[str, str]]:
    """By entry, each field a row of ``rows`` releases (or released: its expiry and a
    revocation do not matter, its holder read it), with one such row's case."""
    granted: dict[str, dict[str, str]] = {}
    for row in rows:
        fields = granted.setdefault(row.dataset_id, {})
        for name in row.fields:
            fields.setdefault(name, row.case_ref)
    return granted


def _approved(
    conn: Connection, subject: str, scope: tuple[Any, ...], generation: int | None
) -> tuple[Any, ...]:
    return _sealed(conn, subject, scope, generation, ("approved",))


def _sealed(
    conn: Connection, subject: str, scope: tuple[Any, ...], generation: int | None,
    statuses: tuple[str, ...],
) -> tuple[Any, ...]:  # fmt: skip
    # Core rows, not ORM objects: this runs whenever the catalog changed; every column
    # the seal covers, typed (JSON decoded, timestamps as the dialect returns them)
    table = AccessRequest.__table__.c
    stmt = select(
        table.id,
        table.requester,
        table.dataset_id,
        table.department,
        table.fields,
        table.purpose,
        table.case_ref,
        table.status,
        table.days,
        table.expires_at,
        table.approvals,
        table.required_approvals,
        table.seal,
    ).where(table.requester == subject, table.status.in_(statuses), *scope)
    rows = conn.execute(stmt).all()
    return tuple(sealed_only(conn, ACCESS_REQUESTS, rows, token=generation))


def unexpired_grants(rows: tuple[Any, ...], now: datetime) -> list[dict[str, Any]]:
    return [_grant(request, expires) for request, expires in _unexpired(rows, now)]


def next_expiry(rows: tuple[Any, ...], now: datetime) -> datetime | None:
    """When the first of ``rows`` still unexpired at ``now`` expires (None: none is): a
    decision that counted them holds until then, however long the catalog stands."""
    return min((expires for _, expires in _unexpired(rows, now)), default=None)


def _unexpired(rows: tuple[Any, ...], now: datetime) -> Iterator[tuple[Any, datetime]]:
    for request in rows:
        expires = request.expires_at
        if expires is None:
            continue
        if expires.tzinfo is None:  # SQLite drops the zone; we always store UTC
            expires = expires.replace(tzinfo=now.tzinfo)
        if expires > now:
            yield request, expires


def _grant(request: Any, expires: datetime) -> dict[str, Any]:
    return grant_input(
        id=str(request.id),
        dataset=request.dataset_id,
        fields=request.fields,
        expires_at=expires,
        approvals=[a["by"] for a in request.approvals],
        status=request.status,
        requester=request.requester,
    )
