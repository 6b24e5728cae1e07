"""Red team 56, as an operator: every address trusted as a proxy, spelt as two halves.

Rule: ``X-Forwarded-For`` is believed only from ``SLUICE_TRUSTED_PROXIES``; trusting
every address lets any client write any address into the trail (forged metadata), and
``sluice doctor`` fails ``0.0.0.0/0`` and ``::/0`` for that reason.

Attack: ``SLUICE_TRUSTED_PROXIES=0.0.0.0/1,128.0.0.0/1`` (or ``::/1,8000::/1``): no
network of prefix 0, every IPv4 (IPv6) address all the same; or the halves of
``::ffff:0:0/96``, every IPv4 peer of a gateway listening on ``::``. uvicorn trusts each
peer and takes the client's own ``X-Forwarded-For``. The doctor looked at each network's
prefix alone: "ok trusted proxies".

Expected: the doctor fails what the networks cover together, however it is spelt.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli.doctor_cmd import doctor


def _proxy_lines(home: Path, proxies: str) -> list[str]:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SLUICE_")}
    env.update(SLUICE_HOME=str(home), SLUICE_TRUSTED_PROXIES=proxies,
               SLUICE_PUBLIC_URL="https://sluice.example.gov/",
               SLUICE_DATABASE_URL=f"sqlite:///{home / 'absent.db'}")  # fmt: skip
    result = CliRunner().invoke(doctor, ["--timeout", "1"], env=env)
    return [" ".join(line.split()) for line in result.output.splitlines()
            if "trusted proxies" in line]  # fmt: skip


EVERY = ["0.0.0.0/0", "0.0.0.0/1,128.0.0.0/1", "::/1,8000::/1",
         "::ffff:0:0/97,::ffff:128.0.0.0/97",
         "10.0.0.0/8,0.0.0.0/1,128.0.0.0/2,192.0.0.0/2"]  # fmt: skip


@pytest.mark.parametrize("proxies", EVERY)
def test_every_address_trusted_however_spelt_fails_doctor(proxies: str, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir(mode=0o700)
    lines = _proxy_lines(tmp_path / "home", proxies)
    assert any(line.startswith("FAIL trusted proxies") for line in lines), lines


def test_a_proxys_own_address_passes(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir(mode=0o700)
    lines = _proxy_lines(tmp_path / "home", "10.0.0.5,192.168.1.0/24")
    assert any(line.startswith("ok trusted proxies") for line in lines), lines
