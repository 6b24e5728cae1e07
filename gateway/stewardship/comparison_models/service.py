"""Authoring comparison models: create, change (a new version), list and read, shared.

A model is stored only if it could run for its author today: its shape
(``spec.check_shape``), its entries' fields and types (``spec.compile_model``) and
the author's own access to every field it reads (``comparison.access``) are checked
first, so a model naming a denied field or a frozen entry is refused at once. Each
runner is checked again when they run it (their clearance and jurisdiction differ).

Functions change the session without committing: the route appends the audit event and
then commits, so a model never changes off the record. A new version binds the model's
new seal on the trail first (``gateway.stewardship.row_trail``): the model's row from
before it, written back behind the gateway, runs nothing (``catalog.comparison_seals``).

Who sees a model: its owner; anyone whose department it is shared with; anyone whose
administrative level (from their jurisdiction: a two-digit or empty prefix is the
province, four digits a city, six a county) it is shared with; and officers, read-only.
Anyone else is told it does not exist (404). Only its owner changes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.comparison_models import ComparisonModel, ComparisonModelVersion
from catalog.comparison_seals import MODELS, VERSIONS, require_model_sealed, row_sealed
from catalog.errors import Conflict, Forbidden, NotFound, Unprocessable
from gateway.core.services import Services
from gateway.enforcement.comparison.access import check_access, compile_against_catalog
from gateway.enforcement.comparison.spec import CompiledModel, ModelSpec
from gateway.stewardship.comparison_models.schemas import ModelIn, ModelOut, ModelSummary
from gateway.stewardship.row_trail import bind_until_commit, require_current
from policies.decision import UserContext


def jurisdiction_levels(jurisdiction: Sequence[str]) -> set[str]:
    """The administrative levels a jurisdiction's region prefixes are at."""
    levels = set()
    for prefix in jurisdiction:
        levels.add("province" if len(prefix) <= 2 else "city" if len(prefix) <= 4 else "county")
    return levels


def may_see(model: ComparisonModel, user: UserContext, *, reviewer: bool) -> bool:
    if reviewer or model.owner == user.subject:
        return True
    if user.department is not None and user.department in (model.shared_departments or []):
        return True
    return bool(jurisdiction_levels(user.jurisdiction) & set(model.shared_levels or []))


def get_visible(
    session: Session, model_id: str, user: UserContext, *, reviewer: bool
) -> ComparisonModel:
    model = session.get(ComparisonModel, model_id)
    if model is None or not may_see(model, user, reviewer=reviewer):
        raise NotFound(f"no comparison model {model_id!r}")
    return model


def get_version(
    session: Session, model: ComparisonModel, version: int | None
) -> ComparisonModelVersion:
    wanted = model.current_version if version is None else version
    row = session.get(ComparisonModelVersion, (model.id, wanted))
    if row is None:
        raise NotFound(f"comparison model {model.id!r} has no version {wanted}")
    return row


def list_visible(
    session: Session, user: UserContext, *, reviewer: bool
) -> list[tuple[ComparisonModel, ComparisonModelVersion]]:
    rows = session.execute(
        select(ComparisonModel, ComparisonModelVersion)
        .join(ComparisonModelVersion,
              (ComparisonModelVersion.model_id == ComparisonModel.id)
              & (ComparisonModelVersion.version == ComparisonModel.current_version))
        .order_by(ComparisonModel.id)
    ).all()  # fmt: skip
    return [(m, v) for m, v in rows if may_see(m, user, reviewer=reviewer)]


def create_model(
    *, services: Services, session: Session, user: UserContext, body: ModelIn
) -> tuple[ComparisonModel, ComparisonModelVersion, CompiledModel]:
    model_id = body.id or f"cm_{secrets.token_hex(6)}"
    if session.get(ComparisonModel, model_id) is not None:
        raise Conflict(f"comparison model {model_id!r} exists; PUT a new version instead")
    compiled = _checked(services, session, user, body.spec(), model_id, 1)
    now = datetime.now(UTC)
    model = ComparisonModel(
        id=model_id, owner=user.subject, department=user.department, current_version=1,
        shared_departments=list(body.shared_with.departments),
        shared_levels=list(body.shared_with.levels), created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(model)
    version = _version(model_id, 1, body, user, now)
    session.add(version)
    # added under the model's write lock (held to the commit), the id read afresh
    # (``row_trail._hold_new``): a creation of the same id that committed while this one
    # compiled made this one 409 at its commit, after its 'comparison_model.created' ok
    # (red team 26); its binding next, before the route's record
    bind_until_commit(services.audit, session)
    return model, version, compiled


def update_model(
    *, services: Services, session: Session, user: UserContext, model_id: str, body: ModelIn,
    reviewer: bool,
) -> tuple[ComparisonModel, ComparisonModelVersion, CompiledModel]:  # fmt: skip
    model = get_visible(session, model_id, user, reviewer=reviewer)
    require_current(session, model)  # another save of it bound, not yet committed: 409
    # the owner named by a row changed behind the gateway is nobody's: 423 first
    require_model_sealed(model, get_version(session, model, None))
    if model.owner != user.subject:
        raise Forbidden("only the model's owner changes it (a new version)")
    if body.id is not None and body.id != model_id:
        raise Unprocessable("a model's id does not change")
    number = model.current_version + 1
    compiled = _checked(services, session, user, body.spec(), model_id, number)
    now = datetime.now(UTC)
    model.current_version = number
    model.shared_departments = list(body.shared_with.departments)
    model.shared_levels = list(body.shared_with.levels)
    model.updated_at = now
    version = _version(model_id, number, body, user, now)
    session.add(version)
    # the model's new state on the trail before anything is flushed (SQLite's one
    # writer); bound back if the route's commit does not happen (row_trail)
    bind_until_commit(services.audit, session)
    return model, version, compiled


def _checked(
    services: Services, session: Session, user: UserContext, spec: ModelSpec, model_id: str,
    version: int,
) -> CompiledModel:  # fmt: skip
    compiled, datasets = compile_against_catalog(session, spec, model_id=model_id, version=version)
    check_access(services=services, session=session, user=user, model=compiled,
                 datasets=datasets, purpose=None, case_ref=None)  # fmt: skip
    return compiled


def _version(
    model_id: str, number: int, body: ModelIn, user: UserContext, now: datetime
) -> ComparisonModelVersion:
    spec = body.spec()
    return ComparisonModelVersion(
        model_id=model_id, version=number, name_zh=body.name.zh, name_en=body.name.en,
        description_zh=body.description.zh, description_en=body.description.en,
        spec=spec.model_dump(mode="json", exclude_none=True), entries=spec.entries,
        created_by=user.subject, created_at=now,
    )  # fmt: skip


def summary(model: ComparisonModel, version: ComparisonModelVersion) -> ModelSummary:
    return ModelSummary(
        id=model.id, name={"zh": version.name_zh, "en": version.name_en},
        version=version.version, entries=list(version.entries), owner=model.owner,
        shared_with={"departments": list(model.shared_departments or []),
                     "levels": list(model.shared_levels or [])},
        updated_at=model.updated_at,
        sealed=row_sealed(MODELS, model) and row_sealed(VERSIONS, version),
    )  # fmt: skip


def detail(session: Session, model: ComparisonModel, version: ComparisonModelVersion) -> ModelOut:
    numbers = session.scalars(
        select(ComparisonModelVersion.version).where(ComparisonModelVersion.model_id == model.id)
        .order_by(ComparisonModelVersion.version)
    ).all()  # fmt: skip
    base = summary(model, version).model_dump()
    return ModelOut(
        **base, description={"zh": version.description_zh, "en": version.description_en},
        versions=list(numbers), spec=dict(version.spec), created_by=version.created_by,
        created_at=version.created_at,
    )  # fmt: skip


def audit_details(version: ComparisonModelVersion, model: ComparisonModel) -> dict[str, Any]:
    """What a model's record says: what it reads and whom it is shared with."""
    return {"entries": list(version.entries), "name": version.name_en,
            "shared_departments": list(model.shared_departments or []),
            "shared_levels": list(model.shared_levels or [])}  # fmt: skip
