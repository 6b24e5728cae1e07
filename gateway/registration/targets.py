"""Which real system a source points at, so one department cannot register another's.

Allowed file roots and network hosts are shared by every department, so the kind and
settings alone do not say whose system a source is. The first department to register
a system owns it; another department registering the same database file, directory,
database or endpoint is refused. (A SQL secret may also carry a full URL; only the
displayed settings URL is compared, which is what registration requires anyway.)
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from catalog.errors import Forbidden
from catalog.models import Source


def target_of(kind: str, settings: dict[str, Any]) -> str | None:
    """A normalised identity of the system behind a source, or None if unknown."""
    try:
        if kind in ("postgresql", "mysql", "sqlite"):
            url = make_url(str(settings.get("url") or ""))
            if url.get_backend_name() == "sqlite":
                return f"sqlite:{os.path.realpath(url.database or '')}"
            host = (url.host or "").lower()
            return f"{url.get_backend_name()}://{host}:{url.port or ''}/{url.database or ''}"
        if kind in ("csv", "parquet"):
            path = settings.get("root") or settings.get("path")
            return f"file:{os.path.realpath(str(path))}" if path else None
        if kind == "http":
            parts = urllib.parse.urlsplit(str(settings.get("base_url") or ""))
            host = (parts.hostname or "").lower()
            return f"{parts.scheme}://{host}:{parts.port or ''}{parts.path.rstrip('/')}"
    except (ArgumentError, ValueError):
        return None
    return None


def refuse_foreign_target(
    *, session: Session, department: str, kind: str, settings: dict[str, Any], source_id: str
) -> None:
    """Raise Forbidden if another department already registered the same system."""
    target = target_of(kind, settings)
    if target is None:
        return
    others = session.execute(
        select(Source.id, Source.department, Source.kind, Source.settings).where(
            Source.department != department, Source.id != source_id
        )
    )
    for other_id, other_dept, other_kind, other_settings in others:
        if target_of(other_kind, dict(other_settings or {})) == target:
            raise Forbidden(
                f"this system is already registered by department {other_dept!r} "
                f"(source {other_id!r}); only that department's stewards may use it"
            )
