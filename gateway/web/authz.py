"""Authorization as dependencies, deny by default: ``Depends(require("audit:read"))``.

Department-scoped actions (querying a dataset, approving a request) are checked where
the department is known, with the same ``authorizer.check``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request

from gateway.web.current_user import current_user
from policies.decision import UserContext


def require(action: str, domain: str = "*") -> Callable[..., UserContext]:
    def dependency(request: Request, user: UserContext = Depends(current_user)) -> UserContext:
        request.app.state.services.authorizer.check(
            subject=user.subject, domain=domain, action=action
        )
        return user

    dependency.__name__ = f"require_{action.replace(':', '_')}"
    return dependency
