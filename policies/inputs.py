"""Build the one policy input from catalog rows and the request (the gateway calls this).

Why a module of its own: the Rego policy must only ever see a shape it was tested with,
and never raw filter values (a filter value on a masked field is data the user may not
see; policy only learns the operator and whether the value is a ``tk_`` hash token).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from catalog.errors import BadRequest
from catalog.mask_reveal import governing_override
from catalog.models import Dataset, User
from policies.decision import DecisionInput, UserContext

TOKEN_RE = re.compile(r"^tk_[0-9a-f]+$")
"""What a ``hash`` mask token looks like (``tk_`` + lowercase hex)."""

ROWS_CEILING = 100_000
"""The largest per-level ``max_rows`` in the policy. The remaining daily quota is
capped here so that, for most users most of the day, it does not vary and the
decision cache keeps hitting (``min(level_max, remaining)`` is unchanged by the cap)."""


def rfc3339(moment: datetime | str) -> str:
    """Normalise a timestamp to ``YYYY-MM-DDTHH:MM:SSZ`` (UTC).

    The policy compares timestamps as strings (regopy lacks a working
    ``time.parse_rfc3339_ns``), which is only correct for this one format.
    Naive datetimes are taken as UTC.
    """
    if isinstance(moment, str):
        text = moment.strip().replace("z", "Z")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_context(user: User, *, roles: Iterable[str] | None = None) -> UserContext:
    """The policy's view of a catalog user; ``roles`` (from casbin) win over the row."""
    return UserContext(
        subject=user.subject,
        department=user.department,
        roles=tuple(sorted(set(roles if roles is not None else (user.roles or [])))),
        clearance=user.clearance,
        jurisdiction=tuple(sorted(set(user.jurisdiction or []))),
    )


def dataset_input(dataset: Dataset) -> dict[str, Any]:
    """The catalog entry as the policy sees it: classification only, no data."""
    return {
        "id": dataset.id,
        "level": dataset.level,
        "department": dataset.department,
        "allowed_purposes": sorted(dataset.allowed_purposes or []),
        "region_field": dataset.region_field,
        "schema_version": dataset.schema_version,
        "fields": [
            {
                "name": f.name,
                "level": f.level,
                "pi_category": f.pi_category,
                # an override that shows more than the category's default is not
                # applied, however it was stored (catalog.mask_reveal)
                "mask_override": governing_override(f.mask_override, f.pi_category),
            }
            for f in dataset.fields
        ],
    }


def is_hash_token(value: Any) -> bool:
    return isinstance(value, str) and TOKEN_RE.match(value) is not None


def filter_input(flt: Mapping[str, Any]) -> dict[str, Any]:
    """One filter with its value dropped: ``{field, op, value_is_hash_token}``."""
    value = flt.get("value")
    if isinstance(value, list | tuple):
        token = bool(value) and all(is_hash_token(v) for v in value)
    else:
        token = is_hash_token(value)
    return {"field": str(flt["field"]), "op": str(flt["op"]), "value_is_hash_token": token}


def request_input(
    *,
    purpose: str | None,
    case_ref: str | None = None,
    fields: Sequence[str] = (),
    filters: Sequence[Mapping[str, Any]] = (),
    order_by: Sequence[str] = (),
    group_by: Sequence[str] = (),
    unmask: Sequence[str] = (),
    aggregates: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The request's shape. ``fields`` empty means every field; ``unmask`` names PI
    fields the caller asks to see in clear (which needs an approved grant);
    ``aggregates`` (issue 16) are ``{fn, field}`` (no ``field``: rows per group) — the
    caller's output names (``as``) never reach policy. With aggregates, the policy
    reads ``fields`` as empty and releases only what is grouped on and aggregated.

    Text holding NUL is refused here (400): the embedded engine takes C strings and
    would see ``"supervision\\0…"`` as ``"supervision"``, an allowed purpose.
    """
    _refuse_nul(purpose, case_ref, *fields, *order_by, *group_by, *unmask)
    _refuse_nul(*(str(a.get("fn", "")) for a in aggregates),
                *(str(a.get("field") or "") for a in aggregates))  # fmt: skip
    _refuse_nul(
        *(str(f.get("field", "")) for f in filters), *(str(f.get("op", "")) for f in filters)
    )
    return {
        "fields": list(fields),
        "filters": [filter_input(f) for f in filters],
        "order_by": list(order_by),
        "group_by": list(group_by),
        "unmask": list(unmask),
        **({"aggregates": [aggregate_input(a) for a in aggregates]} if aggregates else {}),
        "purpose": purpose,
        "case_ref": case_ref,
    }


def aggregate_input(aggregate: Mapping[str, Any]) -> dict[str, Any]:
    """One aggregate as policy sees it: its function and field (none for rows per group)."""
    field = aggregate.get("field")
    out: dict[str, Any] = {"fn": str(aggregate["fn"])}
    if field is not None:
        out["field"] = str(field)
    return out


def _refuse_nul(*texts: str | None) -> None:
    for text in texts:
        if isinstance(text, str) and "\0" in text:
            raise BadRequest("request text may not contain NUL characters")


def grant_input(
    *,
    id: str,
    dataset: str,
    fields: Sequence[str],
    expires_at: datetime | str,
    approvals: Sequence[str],
    status: str,
    requester: str,
    action: str = "allow",
) -> dict[str, Any]:
    """One access grant (an approved access request) in the policy's shape."""
    return {
        "id": id,
        "dataset": dataset,
        "fields": sorted(set(fields)),
        "action": action,
        "expires_at": rfc3339(expires_at),
        "approvals": sorted(set(approvals)),
        "status": status,
        "requester": requester,
    }


def build_input(
    *,
    user: UserContext,
    dataset: Mapping[str, Any],
    request: Mapping[str, Any],
    grants: Iterable[Mapping[str, Any]] = (),
    now: datetime | str,
    rows_remaining_today: int | None = None,
    max_rows_by_level: Mapping[str, int] | None = None,
) -> DecisionInput:
    """Assemble the ``DecisionInput``; grants for other datasets are dropped here."""
    ceiling = max([ROWS_CEILING, *(max_rows_by_level or {}).values()])
    usage = None
    if rows_remaining_today is not None:
        usage = {"rows_remaining_today": max(0, min(int(rows_remaining_today), ceiling))}
    limits = {"max_rows_by_level": dict(max_rows_by_level)} if max_rows_by_level else None
    return DecisionInput(
        user=user,
        dataset=dict(dataset),
        request=dict(request),
        grants=tuple(dict(g) for g in grants if g.get("dataset") == dataset.get("id")),
        now=rfc3339(now),
        usage=usage,
        limits=limits,
    )


def decision_input_from_dict(value: Mapping[str, Any]) -> DecisionInput:
    """The inverse of ``DecisionInput.to_input``: for fixture files and ``policy eval``."""
    user = value["user"]
    return DecisionInput(
        user=UserContext(
            subject=user["subject"],
            department=user.get("department"),
            roles=tuple(user.get("roles", ())),
            clearance=user.get("clearance", ""),
            jurisdiction=tuple(user.get("jurisdiction", ())),
        ),
        dataset=dict(value["dataset"]),
        request=dict(value.get("request", {})),
        grants=tuple(dict(g) for g in value.get("grants", ())),
        now=value.get("now"),
        usage=value.get("usage"),
        limits=value.get("limits"),
    )
