"""Red team 48, as whoever hands an outside reviewer an export: an export that starts
after the witness's checkpoint passes ``--witness`` untouched.

Rule (red team 46's left row, stop 36): ``sluice audit verify --file … --witness R
--witness-kid K`` checks the export against a checkpoint another party countersigned —
"a witness's countersigned checkpoint the export must reach" (the option's help) — so
that a gateway (or its insider) who re-wrote and re-signed its history is caught by the
witness's copy of the head.

Attack: the reviewer holds an honest receipt from the witness (seq 20). The insider
hands over a partial export starting after it (``--from 25``): the events from 25 on
are whatever the insider signed, and no byte of the export is compared with the
witness. The verification answered ``ok`` — the witness option was accepted, and
proved nothing.

Expected: a witnessed checkpoint the export does not contain fails the verification
(the export must reach it from at or before it), naming the witnessed seq.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from audit.export import export_stream
from audit.log import latest_checkpoints, public_keys
from audit.witness_book import WitnessBook
from audit.witness_envelope import make_envelope
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import fill, open_log


def test_an_export_starting_after_the_witnessed_checkpoint_is_not_witnessed(
    tmp_path: Path,
) -> None:
    gateway = open_log(f"sqlite:///{tmp_path / 'gw.db'}", tmp_path / "gateway")
    witness = open_log(f"sqlite:///{tmp_path / 'witness.db'}", tmp_path / "witness")
    fill(gateway, 20)
    book = WitnessBook(home=tmp_path / "book", signer=witness.signer, name="gw-w")
    cp = latest_checkpoints(gateway.store)[0]
    receipt = book.receive(make_envelope(sender="gw-h", epoch=0, checkpoint=cp,
                                         signer=gateway.signer))  # fmt: skip
    fill(gateway, 20)
    keys = tmp_path / "keys.json"
    keys.write_bytes(orjson.dumps({"keys": public_keys(gateway.store)}))
    export = tmp_path / "trail.jsonl"
    start = int(cp["seq"]) + 5
    export.write_bytes(b"".join(export_stream(store=gateway.store, signer=gateway.signer,
                                              from_seq=start)))  # fmt: skip
    (tmp_path / "receipt.json").write_bytes(orjson.dumps(receipt))
    kid = witness.signer.kid
    gateway.close()
    witness.close()
    result = CliRunner().invoke(audit, [
        "verify", "--file", str(export), "--trust", str(keys),
        "--witness", str(tmp_path / "receipt.json"), "--witness-kid", kid])  # fmt: skip
    assert result.exit_code == 1, (
        f"an export from seq {start} verified against a witness of seq {cp['seq']}: {result.output}"
    )
    assert str(cp["seq"]) in result.output, result.output
