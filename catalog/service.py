"""Catalog service: keyword-only functions over a SQLAlchemy session.

Functions flush but never commit: the transaction belongs to the caller (one request,
one CLI command), so a catalog change and its audit record commit together.
Unpublished (draft) entries are invisible unless ``include_drafts`` is asked for, and
an invisible entry is reported as not found rather than forbidden.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import BadRequest, Conflict, NotFound
from catalog.models import Dataset, Department, Field, Source
from catalog.schemas import DatasetIn
from catalog.search import has_tag, rank
from catalog.vocabulary import Level

PUBLISHED = "published"
DRAFT = "draft"


def _level(level: str | None) -> Level | None:
    if level is None or level == "":
        return None
    try:
        return Level(level.upper())
    except ValueError:
        raise BadRequest(f"unknown level {level!r}; use L1, L2, L3 or L4") from None


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
        stmt = stmt.where(Dataset.status == PUBLISHED)
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
    if ds is None or (ds.status != PUBLISHED and not include_drafts):
        raise NotFound(f"no catalog entry {dataset_id!r}", dataset_id=dataset_id)
    return ds


def list_departments(*, session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.code)))


def get_department(*, session: Session, code: str) -> Department:
    dept = session.get(Department, code)
    if dept is None:
        raise NotFound(f"no department {code!r}", department=code)
    return dept


def create_dataset(*, session: Session, data: DatasetIn) -> Dataset:
    """Register a draft entry for an object of one of the department's sources."""
    if session.get(Dataset, data.id) is not None:
        raise Conflict(f"catalog entry {data.id!r} already exists", dataset_id=data.id)
    get_department(session=session, code=data.department)
    source = session.get(Source, data.source_id)
    if source is None:
        raise BadRequest(f"no source {data.source_id!r}", source_id=data.source_id)
    if source.department != data.department:
        raise BadRequest(
            f"source {source.id!r} belongs to department {source.department!r}",
            source_id=source.id,
        )
    ds = Dataset(**data.model_dump(mode="json", exclude={"fields"}), status=DRAFT, schema_version=1)
    ds.fields = [Field(position=i, **f.model_dump(mode="json")) for i, f in enumerate(data.fields)]
    session.add(ds)
    session.flush()
    return ds


def publish_dataset(*, session: Session, dataset_id: str) -> Dataset:
    """Make a draft visible in the catalog; publishing twice is a no-op."""
    ds = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    if ds.status != PUBLISHED:
        ds.status = PUBLISHED
        session.flush()
    return ds


def unpublish_dataset(*, session: Session, dataset_id: str) -> Dataset:
    """Withdraw an entry from the catalog (it stays registered as a draft)."""
    ds = get_dataset(session=session, dataset_id=dataset_id, include_drafts=True)
    if ds.status != DRAFT:
        ds.status = DRAFT
        session.flush()
    return ds
