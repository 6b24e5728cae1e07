"""``install_demo_catalog``: the demo departments, sources, published entries and users.

Idempotent: each row is compared with what the demo wants and written only where it
differs, so a second run changes nothing (no new field ids, no new ``updated_at``),
and a moved data directory only updates the sources' URLs. It flushes and leaves the
commit to the caller, like every catalog service function.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from catalog.comparison_models import ComparisonModel, ComparisonModelVersion
from catalog.demo.comparison_models import DEMO_MODELS, model_rows
from catalog.demo.entries import DEPARTMENTS, dataset_entries, source_entries
from catalog.demo.users import DEMO_USERS
from catalog.models import Base, Dataset, DatasetStatus, Department, Field, Source, User
from catalog.schemas import DatasetIn


def _sync(obj: Base, values: dict[str, Any]) -> bool:
    """Set the attributes that differ; True when anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _upsert(session: Session, model: type[Base], key: str, values: dict[str, Any]) -> Any:
    obj = session.get(model, values[key])
    if obj is None:
        obj = model(**values)
        session.add(obj)
    else:
        _sync(obj, values)
    return obj


def _sync_dataset(session: Session, entry: DatasetIn) -> None:
    values = entry.model_dump(mode="json", exclude={"fields"})
    values["status"] = DatasetStatus.PUBLISHED
    # each demo entry is a table of its department's SQLite file, which reads itself
    # (what ``adapters.sql_lineage`` tells of it): a view drafted beside it is told apart
    # or linked by what it reads, not by its column names (red team 48)
    values["reads"] = [f"main.{entry.object_name}"]
    wanted = [dict(f.model_dump(mode="json"), position=i) for i, f in enumerate(entry.fields)]
    ds = session.get(Dataset, entry.id)
    if ds is None:
        ds = Dataset(**values, schema_version=1)
        ds.fields = [Field(**f) for f in wanted]
        session.add(ds)
        return
    _sync(ds, values)
    by_name = {f.name: f for f in ds.fields}
    names = {f["name"] for f in wanted}
    for stale in [f for f in ds.fields if f.name not in names]:
        ds.fields.remove(stale)
    for values in wanted:
        existing = by_name.get(values["name"])
        if existing is None:
            ds.fields.append(Field(**values))
        else:
            _sync(existing, values)
    ds.fields.sort(key=lambda field: field.position)


def _add_demo_models(session: Session) -> None:
    """The demo comparison models, version 1, unless already there (a model is never
    edited in place: a later version someone PUT stays theirs)."""
    for model in DEMO_MODELS:
        if session.get(ComparisonModel, model["id"]) is not None:
            continue
        head, version = model_rows(model)
        session.add(ComparisonModel(**head))
        session.flush()
        session.add(ComparisonModelVersion(**version))


def install_demo_catalog(*, session: Session, data_dir: Path) -> None:
    """Upsert the demo's departments, sources (SQLite files in ``data_dir``), the five
    published datasets with their fields, the six demo users and the demo comparison
    models."""
    for code, zh, en in DEPARTMENTS:
        _upsert(session, Department, "code", {"code": code, "name_zh": zh, "name_en": en})
    session.flush()
    for source in source_entries(data_dir):
        url = source["settings"]["url"]
        _upsert(session, Source, "id", {**source, "redacted": url, "created_by": "demo"})
    session.flush()
    for entry in dataset_entries():
        _sync_dataset(session, entry)
    for user in DEMO_USERS:
        _upsert(session, User, "subject", {**user, "id_number_hash": None})
    session.flush()
    _add_demo_models(session)
    session.flush()
