"""The two seams owned inside ``gateway/``: the authenticator and the limiter.

Why here and not next to their implementations (``gateway.auth.authenticator``,
``gateway.enforcement.limits``): ``Services`` sits in ``gateway.core`` so that every room
can name the type it is handed, and ``core`` is the bottom room — it may not import
``auth`` or ``enforcement`` (``tests/test_layers.py``). Moving ``Services`` up to
``enforcement`` instead would have made ``auth`` and ``core`` unable to name it and
every consumer change its import; declaring the two Protocols here keeps the
implementations where they are, depending on nothing new, and lets mypy follow a call
from any room into either of them. The seams of the other packages live in those
packages: ``audit.sink``, ``policies.authorizer``, ``policies.decision``,
``adapters.keyring``.
"""

from __future__ import annotations

from typing import Protocol

from policies.decision import UserContext


class TokenAuthenticator(Protocol):
    """An ``Authorization`` header → the caller's ``UserContext`` (who, not what: the
    user store says what they may do now)."""

    def authenticate(self, authorization_header: str | None) -> UserContext:
        """The caller, or ``catalog.errors.Unauthenticated`` (401). May block (a
        remote JWKS refresh)."""
        ...

    def authenticate_if_verified(self, authorization_header: str | None) -> UserContext | None:
        """The caller if this very token passed validation recently (never blocks), None
        if it must be validated first."""
        ...

    def public_jwks(self) -> dict[str, object] | None:
        """The JWKS document this gateway publishes (its embedded issuer), else None."""
        ...


class UsageLimiter(Protocol):
    """Per-user request rate and daily row quota.

    The quota is a reservation: rows are reserved before any leaves and what was not
    sent is released, so parallel requests share what is left instead of each
    receiving all of it."""

    @property
    def daily_rows(self) -> int: ...

    def hit_request(self, subject: str) -> None:
        """Count one request; raise ``catalog.errors.RateLimited`` (429) when over."""
        ...

    def hit_refusal(self, subject: str) -> bool:
        """Count one refusal to record; False once the user's refusals pass their rate."""
        ...

    def note_throttled(self, subject: str) -> bool:
        """True the first time in a rate window that the user's refusals passed it."""
        ...

    def count_unrecorded(self, subject: str) -> None:
        """One more refusal left off the record."""
        ...

    def take_unrecorded(self, subject: str) -> int:
        """How many refusals were left off the record since last taken (reset)."""
        ...

    def remaining_rows(self, subject: str) -> int: ...

    def reserve_rows(self, subject: str, wanted: int) -> int:
        """Atomically take up to ``wanted`` rows of today's quota; the rows granted."""
        ...

    def release_rows(self, subject: str, rows: int) -> None:
        """Give back reserved rows that were not sent."""
        ...

    def consume_rows(self, subject: str, rows: int) -> None:
        """Charge rows already sent (as much as today's quota still holds)."""
        ...
