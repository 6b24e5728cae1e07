"""ORM model of wrapped data keys (envelope encryption of source secrets).

Lives apart from ``catalog.models`` because only ``adapters.credentials`` reads it;
it hangs off the same ``Base.metadata`` so one Alembic history migrates it
(revision ``0004_keys``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import Base, utcnow


class DataKey(Base):
    """A random 32-byte AES key, stored only wrapped (AES-GCM) by master key ``master_kid``."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_kid: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
