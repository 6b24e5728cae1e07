"""Offline verification pins keys (issue 12): an export re-chained and re-signed with a
fresh key verified ``ok`` unless the verifier passed ``--trusted-kid``."""

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
from tests.audit.helpers import event, fill, open_log


def _export(log: AuditLog, path: Path, **kwargs: int) -> Path:
    path.write_bytes(b"".join(export_stream(store=log.store, signer=log.signer, **kwargs)))  # type: ignore[arg-type]
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    honest = open_log(f"sqlite:///{tmp_path / 'honest.db'}", tmp_path / "gateway")
    fill(honest, 30)
    honest.close()
    # the forger re-chains a doctored history and signs it with a key of their own
    forger = open_log(f"sqlite:///{tmp_path / 'forged.db'}", tmp_path / "forger")
    for n in range(30):
        forger.append(event(n, rows=0) if n == 7 else event(n))
    forger.close()
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({"keys": public_keys(honest.store)}))
    # a witness (another gateway's book) countersigned the honest head
    book = WitnessBook(home=tmp_path / "witness", signer=forger.signer, name="gw-w")
    cp = latest_checkpoints(honest.store)[0]
    receipt = book.receive(make_envelope(sender="gw-h", epoch=0, checkpoint=cp,
                                         signer=honest.signer))  # fmt: skip
    witness_file = tmp_path / "receipt.json"
    witness_file.write_bytes(orjson.dumps(receipt))
    return {
        "honest": _export(honest, tmp_path / "honest.jsonl"),
        "short": _export(honest, tmp_path / "short.jsonl", to_seq=20),
        "forged": _export(forger, tmp_path / "forged.jsonl"),
        "keys": keys,
        "witness": witness_file,
        "kid": Path(honest.signer.kid),
        "witness_kid": Path(forger.signer.kid),  # the witness's own key, pinned apart
    }


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(audit, ["verify", *args])
    return result.exit_code, result.output


def test_a_re_signed_forgery_fails_without_pins_and_says_why(files: dict[str, Path]) -> None:
    code, out = _verify("--file", str(files["forged"]))
    assert code == 1 and "unpinned keys" in out and "--trusted-kid" in out, out
    code, out = _verify("--file", str(files["forged"]), "--trusted-kid", str(files["kid"]))
    assert code == 1 and "untrusted keys" in out, out
    code, out = _verify("--file", str(files["forged"]), "--trust", str(files["keys"]))
    assert code == 1 and "untrusted keys" in out, out


def test_the_honest_export_passes_with_the_pinned_key(files: dict[str, Path]) -> None:
    code, out = _verify("--file", str(files["honest"]))
    assert code == 1 and "unpinned keys" in out  # even the honest one: pin first
    code, out = _verify("--file", str(files["honest"]), "--trusted-kid", str(files["kid"]))
    assert code == 0 and '"ok":true' in out, out
    code, out = _verify("--file", str(files["honest"]), "--trust", str(files["keys"]),
                        "--witness", str(files["witness"]),
                        "--witness-kid", str(files["witness_kid"]))  # fmt: skip
    assert code == 0 and '"ok":true' in out, out


def test_an_export_short_of_the_witness_fails(files: dict[str, Path]) -> None:
    code, out = _verify("--file", str(files["short"]), "--trust", str(files["keys"]),
                        "--witness", str(files["witness"]),
                        "--witness-kid", str(files["witness_kid"]))  # fmt: skip
    assert code == 1 and '"reason":"truncated"' in out, out
