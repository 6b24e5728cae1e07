"""Red team 46's left row (4), as whoever hands an outside reviewer an export: a witness
receipt dressed up from the export itself.

Rule (docs/audit.md, issue 12): ``sluice audit verify --file`` trusts no key the file
carries — the gateway's signing keys are pinned (``--trusted-kid`` / ``--trust``) — and
``--witness`` checks the export against a checkpoint *another party* countersigned, so
that a gateway (or its insider) who re-wrote and re-signed its history is caught by
the witness's copy of the head.

Attack: the receipt names its witness's public key and key id itself, and the
countersignature was checked against that key only. Whoever holds any key (a fresh one,
made for the purpose) takes a checkpoint from the export, countersigns it, and hands the
reviewer the export with "a witness receipt": ``ok`` — the witness check proved only
that the receipt agrees with itself.

Expected: the witness's key id is pinned like the gateway's (``--witness-kid``, or
``--witness-trust`` the witness's published key list); a receipt countersigned by an
unpinned key fails (``unpinned witness key``), and the honest receipt passes with its
witness's key pinned.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit.export import export_stream
from audit.log import AuditLog, latest_checkpoints, public_keys
from audit.witness_book import WitnessBook
from audit.witness_envelope import make_envelope
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import fill, open_log


def _export(log: AuditLog, path: Path) -> Path:
    path.write_bytes(b"".join(export_stream(store=log.store, signer=log.signer)))  # type: ignore[arg-type]
    return path


def _receipt(book_home: Path, signer_log: AuditLog, gateway: AuditLog, path: Path) -> Path:
    book = WitnessBook(home=book_home, signer=signer_log.signer, name="gw-w")
    cp = latest_checkpoints(gateway.store)[0]
    receipt = book.receive(make_envelope(sender="gw-h", epoch=0, checkpoint=cp,
                                         signer=gateway.signer))  # fmt: skip
    path.write_bytes(orjson.dumps(receipt))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    gateway = open_log(f"sqlite:///{tmp_path / 'gw.db'}", tmp_path / "gateway")
    fill(gateway, 20)
    witness = open_log(f"sqlite:///{tmp_path / 'witness.db'}", tmp_path / "witness")
    anyone = open_log(f"sqlite:///{tmp_path / 'anyone.db'}", tmp_path / "anyone")
    keys, witness_keys = tmp_path / "keys.json", tmp_path / "witness-keys.json"
    keys.write_bytes(orjson.dumps({"keys": public_keys(gateway.store)}))
    witness_keys.write_bytes(orjson.dumps({"keys": public_keys(witness.store)}))
    out = {
        "export": _export(gateway, tmp_path / "trail.jsonl"),
        "keys": keys,
        "witness_keys": witness_keys,
        "witness_kid": Path(witness.signer.kid),
        "honest": _receipt(tmp_path / "book-w", witness, gateway, tmp_path / "honest.json"),
        "dressed": _receipt(tmp_path / "book-a", anyone, gateway, tmp_path / "dressed.json"),
    }
    for log in (gateway, witness, anyone):
        log.close()
    return out


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit, ["verify", *args])
    return result.exit_code, result.output


def test_a_receipt_countersigned_by_an_unpinned_key_proves_nothing(
    files: dict[str, Path],
) -> None:
    base = ("--file", str(files["export"]), "--trust", str(files["keys"]))
    code, out = _verify(*base, "--witness", str(files["dressed"]))
    assert code == 1 and "unpinned witness key" in out, out
    code, out = _verify(*base, "--witness", str(files["dressed"]),
                        "--witness-kid", str(files["witness_kid"]))  # fmt: skip
    assert code == 1 and "not pinned" in out, out


def test_the_witness_receipt_passes_with_its_witness_pinned(files: dict[str, Path]) -> None:
    base = ("--file", str(files["export"]), "--trust", str(files["keys"]))
    code, out = _verify(*base, "--witness", str(files["honest"]))
    assert code == 1 and "unpinned witness key" in out, out  # pin the witness first
    code, out = _verify(*base, "--witness", str(files["honest"]),
                        "--witness-kid", str(files["witness_kid"]))  # fmt: skip
    assert code == 0 and '"ok":true' in out, out
    code, out = _verify(*base, "--witness", str(files["honest"]),
                        "--witness-trust", str(files["witness_keys"]))  # fmt: skip
    assert code == 0 and '"ok":true' in out, out
    # the gateway's own keys do not make it its own witness
    code, out = _verify(*base, "--witness", str(files["honest"]),
                        "--witness-trust", str(files["keys"]))  # fmt: skip
    assert code == 1, out
