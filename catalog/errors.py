"""The one exception tree of Sluice.

Every error a user can cause is a ``SluiceError`` leaf with a stable ``code`` and an
``http_status``; the gateway maps them to JSON in one handler. The root lives in the
catalog package because every other package already depends on it.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar


class SluiceError(Exception):
    """Base of every error Sluice reports to a user."""

    code = "error"
    http_status = 500
    # set (``audited``) by whoever already put this refusal on the audit trail, so the
    # gateway's catch-all refusal record (gateway.web.refusals) does not write it twice
    audited = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


E = TypeVar("E", bound=BaseException)


def audited(exc: E) -> E:
    """Mark ``exc`` as already on the audit trail; returns it (``raise audited(exc)``).
    Any exception may be marked (a source's driver error ending a query, too)."""
    # an exception type with __slots__ cannot be marked: recorded twice at worst
    with contextlib.suppress(AttributeError):
        exc.audited = True  # type: ignore[attr-defined]
    return exc


def is_audited(exc: BaseException | None) -> bool:
    """Whether ``exc`` was marked by ``audited``."""
    return bool(getattr(exc, "audited", False))


class BadRequest(SluiceError):
    """The request is malformed or names something that does not exist."""

    code = "bad_request"
    http_status = 400


class Unauthenticated(SluiceError):
    """No valid credentials were presented."""

    code = "unauthenticated"
    http_status = 401


class Forbidden(SluiceError):
    """The caller is known but policy refuses the operation."""

    code = "forbidden"
    http_status = 403


class AccountDisabled(Forbidden):
    """The caller's token is valid but their account is suspended or disabled in the user store."""

    code = "account_disabled"

    def __init__(self, message: str = "this account is disabled", **details: Any) -> None:
        # the shape of a policy refusal (``details.reason_codes``), so a client reads one
        # vocabulary (``policies.reasons``): the code is ``account_disabled`` whether an
        # officer suspended the account or an admin disabled it; who and why stay with
        # the officers, on record, never in the answer
        details.setdefault("reasons", [message])
        details.setdefault("reason_codes", [{"code": "account_disabled", "params": {}}])
        super().__init__(message, **details)


class AccountUnsealed(Forbidden):
    """The caller's row in the user store does not carry a gateway's seal
    (``catalog.row_seals``): it was written or edited behind the gateway."""

    code = "account_unsealed"

    def __init__(self, message: str = (
            "this account's record was changed outside the gateway; an administrator "
            "must save it again through the gateway"), **details: Any) -> None:  # fmt: skip
        super().__init__(message, **details)


class NotFound(SluiceError):
    """The object does not exist, or the caller may not know that it exists."""

    code = "not_found"
    http_status = 404


class Conflict(SluiceError):
    """The request conflicts with the current state (duplicate id, schema changed)."""

    code = "conflict"
    http_status = 409


class GrantUnsealed(Conflict):
    """An access or re-identification request does not carry a gateway's seal
    (``catalog.grant_seals``): it was written or edited behind the gateway."""

    code = "request_unsealed"


class TooLarge(SluiceError):
    """The request asks for more than a limit allows."""

    code = "too_large"
    http_status = 413


class Unprocessable(SluiceError):
    """The request is well formed but breaks a rule of the domain."""

    code = "unprocessable"
    http_status = 422


class RateLimited(SluiceError):
    """A rate limit or a quota is exhausted."""

    code = "rate_limited"
    http_status = 429


class SourceFailed(SluiceError):
    """A partner department's source system failed or refused the request."""

    code = "source_failed"
    http_status = 502


class SchemaChanged(Conflict, SourceFailed):
    """The source no longer has a column the catalog entry lists; a steward must refresh
    the entry. A conflict with the catalog's state (409), and still a source failure for
    code that handles those."""

    code = "schema_changed"
    http_status = 409


class Unavailable(SluiceError):
    """A component Sluice cannot work without (audit store, policy engine) is unavailable."""

    code = "unavailable"
    http_status = 503


class SourceTimeout(SluiceError):
    """A partner department's source system did not answer in time."""

    code = "source_timeout"
    http_status = 504


class DatasetFrozen(SluiceError):
    """A security officer froze the catalog entry: no query or comparison until an admin
    (not the one who froze it) lifts the freeze."""

    code = "dataset_frozen"
    http_status = 423


class EntryUnsealed(SluiceError):
    """A catalog entry's row or one of its field rows does not carry a gateway's seal
    (``catalog.entry_seals``): its classification or freeze was changed behind the
    gateway, so nothing it says is trusted and it serves nothing until the sealed
    values are written back."""

    code = "entry_unsealed"
    http_status = 423


class ModelUnsealed(SluiceError):
    """A comparison model's row or the version asked for does not carry a gateway's seal
    (``catalog.comparison_seals``): its rule, author, owner or sharing was changed behind
    the gateway, so it runs nothing until the sealed values are written back."""

    code = "model_unsealed"
    http_status = 423


class ScheduleUnsealed(SluiceError):
    """A comparison schedule's row does not carry a gateway's seal
    (``catalog.comparison_seals``): written or changed behind the gateway (its owner,
    model, county, case), so the clock never runs it in anyone's name."""

    code = "schedule_unsealed"
    http_status = 423


class SourceUnsealed(SluiceError):
    """A source's row does not carry a gateway's seal (``catalog.source_seals``): its
    connection settings or ownership claims were changed behind the gateway, so nothing
    is read through it until the sealed values are written back."""

    code = "source_unsealed"
    http_status = 423
