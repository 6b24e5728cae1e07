"""The catalog's one read and write API for sources, entries and fields: keyword-only
functions over a SQLAlchemy session.

Reads: unpublished (draft) entries are invisible unless ``include_drafts`` is asked
for, and an invisible entry is reported as not found rather than forbidden. (The
broker's per-request read is ``catalog.entries``, a frozen read model.)

Writes change the session and never flush or commit: the caller — a steward's request
in ``gateway.stewardship.registration``, a CLI command, the tests — checks permission
first, records the change on the audit trail, then flushes, so a catalog change and
its audit record commit together and nothing is written if the record cannot be.
Who may write is not decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from catalog.drift import Column, Drift, follow_columns, new_field
from catalog.edits import apply_patch, check_publishable, max_level
from catalog.entry_seals import resealed
from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import Dataset, DatasetStatus, Department, Field, Source
from catalog.schemas import DatasetIn, DatasetPatch
from catalog.search import has_tag, rank
from catalog.vocabulary import Level


def _level(level: str | None) -> Level | None:
    if level is None or level == "":
        return None
    try:
        return Level(level.upper())
    except ValueError:
        raise BadRequest(f"unknown level {level!r}; use L1, L2, L3 or L4") from None


# --- reads -------------------------------------------------------------------------


def list_datasets(
    *,
    session: Session,
    q: str | None = None,
    department: str | None = None,
    level: str | None = None,
    tag: str | None = None,
    include_drafts: bool = False,
) -> list[Dataset]:
    """Catalog entries matching the filters, best search match first (by id without ``q``)."""
    stmt = select(Dataset)
    if not include_drafts:
        stmt = stmt.where(Dataset.status == DatasetStatus.PUBLISHED)
    if department:
        stmt = stmt.where(Dataset.department == department)
    wanted = _level(level)
    if wanted is not None:
        stmt = stmt.where(Dataset.level == wanted.value)
    candidates = list(session.scalars(stmt))
    if tag:
        candidates = [d for d in candidates if has_tag(d, tag)]
    return rank(candidates, q)


def get_dataset(*, session: Session, dataset_id: str, include_drafts: bool = False) -> Dataset:
    """One entry by id; NotFound when absent or (unless asked) not yet published."""
    ds = session.get(Dataset, dataset_id)
    if ds is None or (ds.status != DatasetStatus.PUBLISHED and not include_drafts):
        raise NotFound(f"no dataset {dataset_id!r}", dataset_id=dataset_id)
    return ds


def list_departments(*, session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


def get_department(*, session: Session, code: str) -> Department:
    dept = session.get(Department, code)
    if dept is None:
        raise NotFound(f"no department {code!r}", department=code)
    return dept


DEREGISTERED = "_sluice_deregistered"
"""The key of a deregistered source's tombstone in its ``settings`` (the only key left
there): who deregistered it and when. The row stays because its entries (kept as
drafts, as access requests and the trail name them) refer to it, and so that its id is
never given to another source: ``source:<id>`` on the trail keeps meaning one source."""


TOMBSTONE = "(deregistered)"
"""A deregistered source's ``redacted`` form (a real connection never reads so)."""


def is_deregistered(source: Source) -> bool:
    return DEREGISTERED in (source.settings or {})


def deregistered_now(session: Session, source_id: str) -> bool:
    """Whether the source is deregistered as the database holds it now, not as the
    session loaded it: for a caller under a write lock that a deregistration takes."""
    redacted = session.scalar(select(Source.redacted).where(Source.id == source_id))
    return redacted == TOMBSTONE


def _lock_source(session: Session, source_id: str) -> Source | None:
    """The source row, locked until the transaction ends (PostgreSQL; SQLite has one
    writer), read afresh: publication and deregistration take it first, so they are
    serialised and each sees what the other committed."""
    return session.scalars(
        select(Source).where(Source.id == source_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()  # fmt: skip


def get_source(*, session: Session, source_id: str) -> Source:
    """A registered source; a deregistered one is not found."""
    source = session.get(Source, source_id)
    if source is None or is_deregistered(source):
        raise NotFound(f"no source {source_id!r}")
    return source


# --- writes ------------------------------------------------------------------------

SealedSecret = tuple[bytes, str]
"""A source's secret as the keyring sealed it: (ciphertext, data key id). Sealing is the
caller's (the keyring is not the catalog's); the catalog stores it."""


def require_new_source(*, session: Session, source_id: str, department: str) -> None:
    """Checked before a registration tests the connection: a known department, a free id."""
    if session.get(Department, department) is None:
        raise BadRequest(f"unknown department {department!r}")
    existing = session.get(Source, source_id)
    if existing is not None and is_deregistered(existing):
        raise Conflict(f"source id {source_id!r} was deregistered; ids are not reused")
    if existing is not None:
        raise Conflict(f"a source {source_id!r} already exists")


def add_source(
    *,
    session: Session,
    source_id: str,
    department: str,
    kind: str,
    display_name: str,
    settings: dict[str, Any],
    redacted: str,
    created_by: str,
    sealed_secret: SealedSecret | None,
) -> Source:
    """A source whose connection the caller has tested; ``redacted`` is how it is shown."""
    require_new_source(session=session, source_id=source_id, department=department)
    source = Source(
        id=source_id, department=department, kind=kind, display_name=display_name,
        settings=dict(settings), redacted=redacted, created_by=created_by,
        secret_ciphertext=None, secret_key_id=None,
    )  # fmt: skip
    set_secret(source, sealed_secret)
    session.add(source)
    return source


def edit_source(
    *,
    session: Session,
    source_id: str,
    settings: dict[str, Any],
    redacted: str,
    display_name: str | None = None,
    sealed_secret: SealedSecret | None = None,
) -> Source:
    """Store a source's tested settings and display form; the name and the secret only
    when given."""
    source = get_source(session=session, source_id=source_id)
    source.redacted = redacted
    source.settings = dict(settings)
    if display_name is not None:
        source.display_name = display_name
    set_secret(source, sealed_secret)
    return source


def set_secret(source: Source, sealed_secret: SealedSecret | None) -> None:
    """The source's stored secret (encrypted), when one is given."""
    if sealed_secret is not None:
        source.secret_ciphertext, source.secret_key_id = sealed_secret


def entries_of_source(*, session: Session, source_id: str) -> list[Dataset]:
    """Every entry drawn from the source, published or not."""
    query = select(Dataset).where(Dataset.source_id == source_id).order_by(Dataset.id)
    return list(session.scalars(query))


def deregister_source(
    *,
    session: Session,
    source_id: str,
    by: str,
    at: str,
    target: dict[str, Any] | None = None,
    bind: Callable[[], None] | None = None,
) -> list[str]:
    """Unpublish the source's entries (they stay as drafts: access requests and the
    trail name them), then leave a tombstone: no settings but who and when, no secret,
    and the system it reached (``target``, without credentials), which stays the
    department's: another department may not register it afterwards. ``bind``: called
    once the tombstone is set, before anything is flushed (the gateway binds the
    source's new state on the trail, which shares SQLite's one writer).
    Returns the ids of the entries that were published."""
    source = get_source(session=session, source_id=source_id)
    kept: dict[str, Any] = {"at": at, "by": by}
    if target is not None:
        kept["target"] = target
    source.settings = {DEREGISTERED: kept}
    source.redacted = TOMBSTONE
    source.secret_ciphertext = None
    source.secret_key_id = None
    if bind is not None:
        bind()
    # the tombstone first: it locks the source row (a publication holding it finishes
    # first), then every entry read and withdrawn as it is now
    session.flush()
    published = list(session.scalars(
        select(Dataset).where(Dataset.source_id == source_id, Dataset.status != DatasetStatus.DRAFT)
        .execution_options(populate_existing=True)))  # fmt: skip
    # each entry's new seal, from its values as read (catalog.entry_seals): one changed
    # behind the gateway stays unsealed
    conn = session.connection()
    seals = {d.id: resealed(conn, d, status=DatasetStatus.DRAFT.value) for d in published}
    session.execute(
        update(Dataset).where(Dataset.source_id == source_id)
        .values(status=DatasetStatus.DRAFT).execution_options(synchronize_session=False)
    )  # fmt: skip
    for entry_id, seal in seals.items():
        if seal is not None:
            session.execute(update(Dataset).where(Dataset.id == entry_id).values(seal=seal)
                            .execution_options(synchronize_session=False))  # fmt: skip
    for dataset in session.scalars(select(Dataset).where(Dataset.source_id == source_id)):
        session.expire(dataset, ["status", "seal"])
    unpublished = [d.id for d in published]
    return unpublished


def require_new_dataset_id(*, session: Session, dataset_id: str) -> None:
    """Conflict if the id is taken; checked before introspecting a source for a draft."""
    if session.get(Dataset, dataset_id) is not None:
        raise Conflict(f"a dataset {dataset_id!r} already exists", dataset_id=dataset_id)


def require_department_prefix(*, dataset_id: str, department: str) -> None:
    """``BadRequest`` unless the entry id is ``<department>.<object>``, its department
    being its source's: the part before the first ``.`` is read as the owner by whoever
    meets the id in a listing, the trail or DCAT, and an id in another department's
    prefix misled them and squatted that department's name (red team 27)."""
    prefix, dot, _rest = dataset_id.partition(".")
    if not dot or prefix != department:
        raise BadRequest(
            f"an entry id starts with its department's code and a dot: {department + '.'!r} "
            f"(its source is {department}'s), not {dataset_id!r}",
            dataset_id=dataset_id,
        )


def create_dataset(*, session: Session, data: DatasetIn) -> Dataset:
    """A draft entry fully described by ``data`` (the demo, the tests, imports) for an
    object of one of the department's sources."""
    require_new_dataset_id(session=session, dataset_id=data.id)
    get_department(session=session, code=data.department)
    source = session.get(Source, data.source_id)
    if source is None:
        raise BadRequest(f"no source {data.source_id!r}", source_id=data.source_id)
    if source.department != data.department:
        raise BadRequest(
            f"source {source.id!r} belongs to department {source.department!r}",
            source_id=source.id,
        )
    ds = Dataset(
        **data.model_dump(mode="json", exclude={"fields"}),
        status=DatasetStatus.DRAFT,
        schema_version=1,
    )
    ds.fields = [Field(position=i, **f.model_dump(mode="json")) for i, f in enumerate(data.fields)]
    session.add(ds)
    return ds


def create_draft(
    *,
    session: Session,
    source_id: str,
    object_name: str,
    dataset_id: str,
    columns: Sequence[Column],
    reads: Collection[str] | None = None,
    title_zh: str = "",
    title_en: str = "",
    description_zh: str = "",
    description_en: str = "",
    allowed_purposes: Sequence[str] = (),
    tags: Sequence[str] = (),
) -> Dataset:
    """A draft entry for one introspected source object: each field starts at its
    suggested classification, the entry at its most sensitive field's level (L2 at least)."""
    source = get_source(session=session, source_id=source_id)
    require_department_prefix(dataset_id=dataset_id, department=source.department)
    require_new_dataset_id(session=session, dataset_id=dataset_id)
    fields = [new_field(column, position) for position, column in enumerate(columns)]
    dataset = Dataset(
        id=dataset_id,
        department=source.department,
        source_id=source.id,
        object_name=object_name,
        title_zh=title_zh,
        title_en=title_en,
        description_zh=description_zh,
        description_en=description_en,
        level=max_level(f.level for f in fields),
        allowed_purposes=list(allowed_purposes),
        tags=list(tags),
        status=DatasetStatus.DRAFT,
        schema_version=1,
        fields=fields,
        reads=None if reads is None else sorted(reads),
    )
    session.add(dataset)
    return dataset


@dataclass(frozen=True)
class Edited:
    dataset: Dataset
    changed: tuple[str, ...]  # ``fields.<name>.<attr>`` and entry attribute names


def update_dataset(*, session: Session, dataset_id: str, patch: DatasetPatch) -> Edited:
    """Apply a steward's corrections (``catalog.edits``), drafts and published alike."""
    dataset = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    return Edited(dataset=dataset, changed=tuple(apply_patch(dataset, patch)))


def publish_dataset(
    *, session: Session, dataset_id: str, reads: Collection[str] | None = None
) -> Dataset:
    """Make a draft visible in the catalog and queryable, its current classification
    the accepted one; publishing twice is a no-op. ``reads``: what its object reads as
    the source told it for the publication's checks, recorded with it (``reads_change``)."""
    ds = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    if ds.status != DatasetStatus.PUBLISHED:
        require_publishable(session=session, dataset=ds)
        _lock_source(session, ds.source_id)
        # written only if the source is live at the moment of writing: a deregistration
        # committed since the check above wins (it found this entry a draft)
        live = ~exists().where(Source.id == Dataset.source_id, Source.redacted == TOMBSTONE)
        # sealed as read, published (catalog.entry_seals): a draft changed behind the
        # gateway is published unsealed, and serves nothing
        session.flush()
        changes: dict[str, Any] = {"status": DatasetStatus.PUBLISHED.value,
                                   **reads_change(ds, reads)}  # fmt: skip
        seal = resealed(session.connection(), ds, **changes)
        values: dict[str, Any] = {**changes, "status": DatasetStatus.PUBLISHED}
        if seal is not None:
            values["seal"] = seal
        done = session.execute(
            update(Dataset).where(Dataset.id == ds.id, live).values(**values)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if getattr(done, "rowcount", 0) != 1:
            raise Conflict(f"dataset {ds.id}'s source {ds.source_id} was deregistered")
        session.expire(ds, ["status", "seal", "reads"])
    return ds


def require_publishable(*, session: Session, dataset: Dataset) -> None:
    """What a publication checks before it is put on record (read only). The source's
    state is read afresh, not as the session loaded it: called under the entry's write
    lock, it sees a deregistration that committed while the publication waited for it
    (which answered 409 after ``dataset.published`` was on record: red team 25)."""
    if deregistered_now(session, dataset.source_id):
        raise Conflict(f"dataset {dataset.id}'s source {dataset.source_id} was deregistered")
    check_publishable(dataset)


def unpublish_dataset(*, session: Session, dataset_id: str) -> Dataset:
    """Withdraw an entry from the catalog (it stays registered as a draft)."""
    ds = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    if ds.status != DatasetStatus.DRAFT:
        ds.status = DatasetStatus.DRAFT
    return ds


def refresh_fields(
    *, session: Session, dataset_id: str, columns: Sequence[Column],
    reads: Collection[str] | None = None,
) -> Drift:  # fmt: skip
    """Follow the source object's current columns (``catalog.drift``) and what it reads
    now (a view redefined since the draft)."""
    dataset = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    for name, value in reads_change(dataset, reads).items():
        setattr(dataset, name, value)
    return follow_columns(dataset, columns)


def reads_change(dataset: Dataset, reads: Collection[str] | None) -> dict[str, list[str]]:
    """``{"reads": …}`` when the source told what the entry's object reads now and that
    is not what its row records; nothing when it told nothing (a file, an endpoint)."""
    if reads is None or sorted(reads) == dataset.reads:
        return {}
    return {"reads": sorted(reads)}
