"""Red team 57, operator (and every client behind the proxy): a trusted proxy network
spelt with host bits is accepted, shown, and trusted by nobody.

Rule: ``SLUICE_TRUSTED_PROXIES`` names the reverse proxies whose ``X-Forwarded-For`` is
believed; the client on record (and each per-address limit: the console's sign-in
throttle, the unknown-name lock) is the proxy's client, not the proxy.

Attack: ``10.0.0.1/8`` (the proxy's own address with its network's length, as ``ip
addr`` prints it) passes the settings (``ip_network(…, strict=False)``) and the doctor
("ok trusted proxies 10.0.0.0/8"), but uvicorn parses each network strictly, takes a
network with host bits for a literal host name, and trusts nothing: every client is on
record as the proxy's address, and one anonymous client spends the sign-in throttle of
everyone behind it. Expected: the network the settings and the doctor read is the one
uvicorn is given.

A real ``sluice serve`` over the deployment (``test_anonymous_forwarded``'s), its proxy
on loopback spelt ``127.0.0.1/8``. On the embedded default and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from gateway.cli.serve_cmd import proxy_options
from gateway.core.settings import load_settings
from tests.attacks.test_anonymous_forwarded import FORGED, _recorded_client, _server
from tests.gateway.demo_app import DemoGateway


def test_a_proxy_spelt_with_host_bits_is_believed(deployment: DemoGateway) -> None:
    with _server(deployment, SLUICE_TRUSTED_PROXIES="127.0.0.1/8") as base:
        clients = _recorded_client(deployment, base, {"X-Forwarded-For": FORGED})
    assert clients == {FORGED}, f"the configured proxy was not believed: {clients}"


def test_uvicorn_is_given_the_networks_the_doctor_reads(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, trusted_proxies="10.0.0.1/8, fd00::1/64 ::1")
    assert proxy_options(settings)["forwarded_allow_ips"] == ["10.0.0.0/8", "fd00::/64", "::1"]
