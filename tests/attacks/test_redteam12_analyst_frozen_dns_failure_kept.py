"""As an analyst (and a network insider who can make one name fail to resolve for a
moment): a copy of a frozen entry, published before the freeze on another source of the
same system, answers while the freeze stands.

The broker reads the frozen entries once per catalog generation and compares every
queried entry with them (``enforcement.sources.objects``). Since cbc7776 a source's
system is resolved once per source view and kept with the frozen entries for the whole
generation: a resolution of the frozen entry's host name that failed once (a DNS
outage, a timeout) was kept too, and from then on no entry of another source was taken
for the frozen system until the next catalog write — before, each newly queried entry
asked again.

Expected: a name that did not resolve is asked again at the next comparison; once it
resolves, the copy over the frozen object is held by the freeze.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.enforcement.sources.objects import FrozenObject, SourceView, frozen_holding

HOST = "api.civil.test"


@pytest.fixture()
def flaky_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """``HOST`` is 127.0.0.1, except while the flag is set (a resolver that fails)."""
    real = socket.getaddrinfo
    down = [True]

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == HOST:
            if down[0]:
                raise socket.gaierror(socket.EAI_AGAIN, "temporary failure in name resolution")
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield down


def _api(source_id: str, host: str) -> SourceView:
    settings = {"base_url": f"http://{host}:8080/civil",
                "objects": [{"name": "people", "path": "/people"}]}  # fmt: skip
    return SourceView(source_id, "http", settings)


def test_a_failed_resolution_is_not_kept_for_the_generation(flaky_dns: list[bool]) -> None:
    # as the broker holds them for a catalog generation: read once, compared many times
    frozen = (FrozenObject("civil.api_people", "people", _api("civil-api", HOST)),)
    copy_source = _api("civil-api-by-address", "127.0.0.1")
    # the first copy is compared while the name does not resolve: not told, held by its
    # location all the same (red team 13: a steward can make the frozen host's name fail)
    assert frozen_holding(frozen, copy_source, "civil.copy_1", "people") == "civil.api_people"
    assert not frozen[0].source.told  # the failed resolution is not kept
    flaky_dns[0] = False
    held = frozen_holding(frozen, _api("civil-api-by-address", "127.0.0.1"), "civil.copy_2",
                          "people")  # fmt: skip
    assert held == "civil.api_people"
