"""Red team 56, as an operator following the deployment guide, then whoever copies the
home: the master key rotation moves the source credentials off the secret manager.

Rule (THREAT_MODEL, out of scope; docs/deploy.md, Keys): "in production use
``SLUICE_MASTER_KEY`` from a secret manager" — so that ``SLUICE_HOME`` and a database
dump are not, together, every source's credentials. ``sluice doctor`` says "master key
set (env-…)" and "all N wrapping M data keys are here".

Attack: the operator rotates as the guide says (``sluice keys rotate``:
``Keyring.rotate_master``). The new master key is a *file* in ``<home>/keys/master/``,
made current, and every data key is re-wrapped under it: the secret manager's key
wraps nothing any more. A copy of the home (a backup of ``keys/``, as the guide asks
for, or a host read) and a dump of the catalog open every source's password without
``SLUICE_MASTER_KEY``; the doctor still says the env key is set.

Expected: after a rotation in a deployment with ``SLUICE_MASTER_KEY``, no data key opens
with the home alone. Fixed (the lead's call): with an env key set, a rotation never
writes a key into the home; its new key is the secret manager's (``SLUICE_MASTER_KEY``,
the old one as ``SLUICE_MASTER_KEY_PREVIOUS``), a rotation with nothing to re-wrap is
refused with how to rotate, and the doctor fails data keys wrapped by home key files
while the env key is set.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.credentials import FileMasterKeys, Keyring, NothingToRotate
from catalog.db import make_engine, make_session_factory, migrate
from catalog.errors import Unavailable


def test_after_a_rotation_the_home_alone_does_not_open_a_source_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    migrate(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    masters = tmp_path / "home" / "keys" / "master"
    first = SecretStr(base64.b64encode(secrets.token_bytes(32)).decode())
    second = SecretStr(base64.b64encode(secrets.token_bytes(32)).decode())
    try:
        gateway = Keyring(FileMasterKeys(masters, first), sessions)
        assert gateway.current_master_kid.startswith("env-")  # the secret manager's
        ciphertext, key_id = gateway.encrypt("civil-db-password", aad=b"source:civil")
        home_only = Keyring(FileMasterKeys(masters, None), sessions)
        with pytest.raises(Unavailable):  # before: the home alone opens nothing
            home_only.decrypt(ciphertext, key_id, aad=b"source:civil")

        with pytest.raises(NothingToRotate):  # `sluice keys rotate` with no new key given
            gateway.rotate_master()
        rotated = Keyring(FileMasterKeys(masters, second, first), sessions)  # as the guide says
        assert rotated.rotate_master().rewrapped == 1

        assert not masters.exists() or not any(masters.iterdir())  # no key in the home
        home_only = Keyring(FileMasterKeys(masters, None), sessions)
        with pytest.raises(Unavailable):
            home_only.decrypt(ciphertext, key_id, aad=b"source:civil")
        after = Keyring(FileMasterKeys(masters, second), sessions)
        assert after.decrypt(ciphertext, key_id, aad=b"source:civil") == "civil-db-password"
    finally:
        engine.dispose()
