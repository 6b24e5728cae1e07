"""Shared by the policy tests: fixture cases, the policy set, casbin seeding."""

from __future__ import annotations

from typing import Any

from policies.rbac import Authorizer

STEWARD_DOMAIN_ROLES = {"steward"}


def assign_roles(authorizer: Authorizer, subject: str, user: dict[str, Any]) -> None:
    """Give ``subject`` the fixture user's roles the way the admin would."""
    for role in user["roles"]:
        domain = user["department"] if role in STEWARD_DOMAIN_ROLES else "*"
        if role == "analyst" and "security_officer" in user["roles"]:
            continue  # assign refuses this pair (separation of duties)
        authorizer.assign(subject=subject, role=role, domain=domain)
