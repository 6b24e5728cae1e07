"""The SSRF guard, table-driven: every spelling of an internal address is refused."""

from __future__ import annotations

import pytest

from adapters.netguard import check_url
from catalog.errors import BadRequest, Forbidden

REFUSED = [
    "http://127.0.0.1/",
    "http://127.0.0.1:5432/",
    "http://127.1/",
    "http://2130706433/",  # 127.0.0.1 as one integer
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://localhost/",  # a DNS name resolving to loopback
    "http://LOCALHOST./",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of loopback
    "http://[2002:7f00:1::]/",  # 6to4 of loopback
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[fd00:ec2::254]/",  # AWS IPv6 metadata (unique local)
    "http://100.100.100.200/",  # Alibaba metadata (shared address space)
    "http://100.64.0.1/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://198.18.0.1/",
    "http://240.0.0.1/",
    "https://127.0.0.1:8443/api",
]

MALFORMED = [
    "file:///etc/passwd",
    "gopher://example.com/",
    "ftp://example.com/",
    "javascript:alert(1)",
    "http://",
    "//example.com/",
    "http://user:pw@example.com/",
    "http://exa mple.com/",
    "http://example.com/\x00",
    "http://example.com:99999/",
    "http:\\\\127.0.0.1\\",
    "",
]


@pytest.mark.parametrize("url", REFUSED)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(Forbidden, match="non-public address") as info:
        check_url(url, allow_hosts=())
    assert "SLUICE_SOURCE_ALLOW_HOSTS" in info.value.message


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(BadRequest):
        check_url(url, allow_hosts=())


def test_public_literals_pass_and_pin_the_address() -> None:
    target = check_url("https://93.184.216.34/api?x=1", allow_hosts=())
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "93.184.216.34",
        443,
        "93.184.216.34",
    )


def test_allow_list_is_by_host_name() -> None:
    assert check_url("http://127.0.0.1:8080/x", allow_hosts=("127.0.0.1",)).address == "127.0.0.1"
    assert check_url("http://localhost/", allow_hosts=("LocalHost",)).address == "127.0.0.1"
    # Allowing 127.0.0.1 does not allow other names or spellings of it.
    for url in ("http://localhost/", "http://2130706433/", "http://127.0.0.2/"):
        with pytest.raises(Forbidden):
            check_url(url, allow_hosts=("127.0.0.1",))


def test_every_resolved_address_must_be_public() -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    with pytest.raises(Forbidden):
        check_url("http://data.example.test/", allow_hosts=(), resolver=mixed)


def test_unresolvable_host_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="does not resolve"):
        check_url("http://no-such-host.invalid/", allow_hosts=())
