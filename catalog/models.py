"""SQLAlchemy ORM models of the catalog store (SQLite by default, PostgreSQL in production).

Every package's tables live in this one database under one Alembic history; each
package keeps its revisions in its own ``migrations/versions`` folder (``catalog.db``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    object_session,
    relationship,
)
from sqlalchemy.orm.attributes import flag_modified

from catalog.entry_seals import dataset_verifies, seal_entry_row
from catalog.row_bindings import checker
from catalog.row_seals import seal_user_row, seals_for
from catalog.source_seals import loaded_source_holds, seal_source_row


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base shared by every Sluice table."""


class DatasetStatus(StrEnum):
    """Where an entry is in its life: a draft is invisible to analysts (reported as not
    found, never forbidden); a published entry is in the catalog and queryable. A
    ``StrEnum`` so the stored values stay the strings they always were."""

    DRAFT = "draft"
    PUBLISHED = "published"


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))


class User(Base):
    """A person known to Sluice; roles are casbin assignments, attributes live here."""

    __tablename__ = "users"

    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), nullable=True)
    clearance: Mapped[str] = mapped_column(String(2), default="L1")
    jurisdiction: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "active" or "disabled": read at every request (gateway.stewardship.users.directory), so a
    # suspension stops tokens already issued
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # an officer's emergency suspension (status "suspended"): who, why, when (0009)
    suspended_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    suspended_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # keyed hash (HMAC) of the user's own resident ID number, for "own records" alerts
    id_number_hash: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # HMAC under the deployment's row-seal key over the values above that govern access
    # (catalog.row_seals; 0017): a row written behind the gateway does not verify
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)


@event.listens_for(User, "before_insert")
def _seal_new_user(_mapper: Any, connection: Connection, target: User) -> None:
    seal_user_row(connection, target)


@event.listens_for(User, "before_update")
def _seal_user(_mapper: Any, connection: Connection, target: User) -> None:
    seal_user_row(connection, target, update=True)


class Source(Base):
    """A partner department's system; ``secret_ciphertext`` holds the encrypted secret part."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    kind: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    redacted: Mapped[str] = mapped_column(String(500), default="")
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    secret_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # ``<system identifier>/<database>`` of the PostgreSQL server its connection last
    # reached, as the server said it (migration 0016): the gateway's, never a steward's
    # setting; kept on a deregistered row (``gateway.enforcement.sources.server_claims``)
    server_identity: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the row seal (catalog.source_seals; 0021): a source re-pointed behind the gateway,
    # or its ownership claims rewritten, does not verify
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # Compare-and-set on the connection as read: every UPDATE of a source carries
    # ``WHERE redacted = <the form this session read>``, so a change tested against a
    # source that was deregistered (or re-pointed) meanwhile cannot write over it and
    # revive the tombstone (StaleDataError: 409). Every change of the settings sets
    # ``redacted`` afresh; a deregistration sets it to ``(deregistered)``.
    __mapper_args__ = {"version_id_col": redacted, "version_id_generator": False}  # noqa: RUF012


@event.listens_for(Source, "before_insert")
def _seal_new_source(_mapper: Any, connection: Connection, target: Source) -> None:
    seal_source_row(connection, target, update=False)


@event.listens_for(Source, "before_update")
def _seal_source(_mapper: Any, connection: Connection, target: Source) -> None:
    seal_source_row(connection, target, update=True)


class Dataset(Base):
    """A catalog entry: one object (table, file, endpoint) of one source."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    object_name: Mapped[str] = mapped_column(String(300))
    title_zh: Mapped[str] = mapped_column(String(300), default="")
    title_en: Mapped[str] = mapped_column(String(300), default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[str] = mapped_column(String(2), default="L2")
    allowed_purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    region_field: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    update_frequency: Mapped[str] = mapped_column(String(32), default="daily")
    # a DatasetStatus value (stored as its string; a hand-edited other value reads as
    # not published everywhere)
    status: Mapped[str] = mapped_column(String(16), default=DatasetStatus.DRAFT.value)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    # an emergency freeze (0009): no query or comparison while frozen_at is set
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    frozen_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    frozen_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # the tables of its system its object reads, as the source told it at the draft or
    # the last refresh (``adapters.sql_lineage``; "*": any); NULL: not told (0023)
    reads: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    # HMAC under the deployment's row-seal key over what governs access to the entry
    # (catalog.entry_seals; 0019): a row written behind the gateway does not verify
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)

    fields: Mapped[list[Field]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        order_by="Field.position",
        lazy="selectin",
    )

    @property
    def sealed(self) -> bool:
        """Whether a gateway wrote the entry, each of its fields and its source as they
        are, and the trail names them as they are (false: the broker refuses it, 423
        ``entry_unsealed`` or ``source_unsealed``; its views say so: the catalog said
        ``sealed: true`` for an entry whose source was re-pointed). A view decides
        nothing: the trail is read only for a row that differs from what this process
        knows (``catalog.row_bindings.checker``); a source is read once per session."""
        session = object_session(self)
        if session is None:
            return False
        bind = session.get_bind()
        if not dataset_verifies(seals_for(bind), self, checker(bind, refresh=False)):
            return False
        source = session.get(Source, self.source_id)
        return source is not None and loaded_source_holds(source)


class Field(Base):
    """A column of a dataset with its classification (level, PI category, mask override)."""

    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(32), default="string")
    level: Mapped[str] = mapped_column(String(2), default="L2")
    pi_category: Mapped[str] = mapped_column(String(32), default="none")
    description: Mapped[str] = mapped_column(Text, default="")
    mask_override: Mapped[str | None] = mapped_column(String(32), nullable=True)
    suggested_level: Mapped[str | None] = mapped_column(String(2), nullable=True)
    suggested_pi_category: Mapped[str | None] = mapped_column(String(32), nullable=True)

    # the field's seal (catalog.entry_seals; 0019)
    seal: Mapped[str | None] = mapped_column(String(64), nullable=True)

    dataset: Mapped[Dataset] = relationship(back_populates="fields")


def _seal_new_entry_row(mapper: Any, connection: Connection, target: Dataset | Field) -> None:
    seal_entry_row(connection, mapper.local_table.name, target, update=False)


def _seal_entry_row(mapper: Any, connection: Connection, target: Dataset | Field) -> None:
    seal_entry_row(connection, mapper.local_table.name, target, update=True)


# entries and fields are sealed as the ORM writes them (catalog.entry_seals; 0019)
for _model in (Dataset, Field):
    event.listen(_model, "before_insert", _seal_new_entry_row)
    event.listen(_model, "before_update", _seal_entry_row)


@event.listens_for(Session, "before_flush")
def _reseal_entries_of_changed_fields(session: Session, _context: Any, _instances: Any) -> None:
    """An entry's seal names its fields' seals (0020): a field written alone writes its
    entry too, which is re-sealed over it (``catalog.entry_seals``)."""
    for field in (*session.new, *session.dirty):
        dataset = field.dataset if isinstance(field, Field) else None
        if dataset is None and isinstance(field, Field) and field in session.new:
            dataset = _entry_of(session, field)
        if dataset is not None and inspect(dataset).key is not None:  # a new one is written
            # its update time, not its seal: the seal's loaded value is what the hook checks
            dataset.updated_at  # noqa: B018 - loaded (it may have been expired) to be flagged
            flag_modified(dataset, "updated_at")


def _entry_of(session: Session, field: Field) -> Dataset | None:
    """The entry of a new field made with ``dataset_id`` alone: its relationship is not
    loaded before the flush, so its entry was sealed without it (and never verified)."""
    if field.dataset_id is None:
        return None
    with session.no_autoflush:
        dataset = session.get(Dataset, field.dataset_id)
        if dataset is not None and field not in dataset.fields:  # loaded as stored first
            dataset.fields.append(field)  # so the entry's new seal names it
        return dataset
