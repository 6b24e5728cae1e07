"""Authorization as dependencies, deny by default: ``Depends(require("audit:read"))``.

Department-scoped actions (querying a dataset, approving a request) are checked where
the department is known, with the same ``authorizer.check``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request

from gateway.web.current_user import audited_user
from policies.decision import UserContext


def require(action: str, domain: str = "*") -> Callable[..., UserContext]:
    """The caller, if their role allows ``action``; every such call is an audited one
    (an audit read, an administrator's or an officer's action, a model's run), so it
    counts on the caller's rate (``audited_user``)."""

    def dependency(request: Request, user: UserContext = Depends(audited_user)) -> UserContext:
        request.app.state.services.authorizer.check(
            subject=user.subject, domain=domain, action=action
        )
        return user

    dependency.__name__ = f"require_{action.replace(':', '_')}"
    return dependency
