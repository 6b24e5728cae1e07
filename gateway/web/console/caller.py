"""Who is using the console, and what their roles let a menu show.

Below the guard, the menu and the rendering alike, so that each can name the caller
without importing the others (the guard establishes the caller, the page renders for
it, the menu asks what it may see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from catalog.errors import Unauthenticated
from gateway.web.console.runtime import get_console
from gateway.web.console.sessions import ConsoleSession
from policies.decision import UserContext


@dataclass(frozen=True)
class Caller:
    """A signed-in console user: who they are now, and their session."""

    user: UserContext
    session: ConsoleSession

    def has_role(self, role: str) -> bool:
        return role in self.user.roles


def in_session(request: Request, caller: Caller, governs: Callable[[], None]) -> Callable[[], None]:
    """``governs`` of a result the console hands out (a download, a preview, a
    comparison), and the caller's session still live (``session_live``)."""
    live = session_live(request, caller)

    def governed() -> None:
        live()
        governs()

    return governed


def session_live(request: Request, caller: Caller) -> Callable[[], None]:
    """A check that ``caller``'s session is still live, for a result in flight: a
    sign-out, a password reset or a suspension ends the session, and a copy of its
    cookie must not keep what it started (red team 65: a download ran to its last row,
    an audit export to its last event, the session over)."""
    sessions = get_console(request).sessions

    def live() -> None:
        if not sessions.live(caller.session):
            raise Unauthenticated("the console session this was asked in has ended")

    return live


def may(request: Request, caller: Caller | None, action: str, domain: str = "*") -> bool:
    """For menus (pages enforce with ``page_permission``). With ``domain="*"``, also
    true when a role held in one department allows it (a steward of ``civil``): the
    service then checks the department of what is touched."""
    if caller is None:
        return False
    authorizer = get_console(request).services.authorizer
    subject = caller.user.subject
    if authorizer.allowed(subject=subject, domain=domain, action=action):
        return True
    if domain != "*":
        return False
    domains = {d for _role, d in authorizer.roles_of(subject) if d != "*"}
    return any(authorizer.allowed(subject=subject, domain=d, action=action) for d in domains)
