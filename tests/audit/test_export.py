"""Exports verify offline, and any changed byte fails verification."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.export import export_stream, verify_export
from gateway.cli.audit_cmd import audit
from tests.audit.helpers import event, fill, open_log

PINNED: set[str] = set()  # the exporting log's key ids, as published (filled by ``exports``)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    base = tmp_path_factory.mktemp("export")
    log = open_log(f"sqlite:///{base / 'a.db'}", base / "home")
    fill(log, 12)
    log.append(event(99, details={"note": '引号"\n\\ and ,commas,', "resource_dept": "civil"}))
    log.rotate_signing_key()
    fill(log, 9)
    log.close()
    PINNED.update(log.signer.public_keys())
    return {
        fmt: b"".join(export_stream(store=log.store, signer=log.signer, fmt=fmt))  # type: ignore[arg-type]
        for fmt in ("jsonl", "csv")
    }


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_offline(exports: dict[str, bytes], fmt: str) -> None:
    outcome = verify_export(exports[fmt], trusted_kids=PINNED)
    assert outcome.ok, outcome
    assert outcome.events == 22
    assert outcome.checkpoints == 3  # at 10, 20 and the final one at close (22)


def test_pinned_key_ids(exports: dict[str, bytes]) -> None:
    outcome = verify_export(exports["jsonl"], trusted_kids={"ed25519-0000000000000000"})
    assert (outcome.ok, outcome.reason) == (False, "untrusted keys")


def test_unpinned_keys_fail(exports: dict[str, bytes]) -> None:
    """The keys inside an export prove nothing: without pins, verification fails."""
    for kids in (None, set()):
        outcome = verify_export(exports["jsonl"], trusted_kids=kids)
        assert (outcome.ok, outcome.reason) == (False, "unpinned keys")
        assert "--trusted-kid" in (outcome.detail or "")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_single_byte_change_is_caught(exports: dict[str, bytes], data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(["jsonl", "csv"]))
    original = exports[fmt]
    position = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != original[position]))
    changed = bytearray(original)
    changed[position] = value
    assert not verify_export(bytes(changed), trusted_kids=PINNED).ok


def test_changed_event_names_its_seq(exports: dict[str, bytes]) -> None:
    lines = exports["jsonl"].split(b"\n")
    index = next(i for i, line in enumerate(lines) if b'"seq":7}' in line)
    lines[index] = lines[index].replace(b'"rows":6', b'"rows":5')
    outcome = verify_export(b"\n".join(lines), trusted_kids=PINNED)
    assert (outcome.ok, outcome.first_bad_seq, outcome.reason) == (False, 7, "hash mismatch")


def test_cli_export_and_offline_verify(
    tmp_path: Path, sluice_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLUICE_HOME", str(sluice_home))
    monkeypatch.setenv("SLUICE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    runner = CliRunner()
    out = tmp_path / "export.jsonl"
    assert runner.invoke(audit, ["keys", "rotate"]).exit_code == 0
    result = runner.invoke(audit, ["export", "--format", "jsonl", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(audit, ["verify", "--file", str(out)])
    assert result.exit_code == 1 and "unpinned keys" in result.output, result.output
    assert "pin" in result.output
    keys = sorted(p.stem for p in (sluice_home / "keys" / "audit").glob("ed25519-*.pem"))
    pins = [arg for kid in keys for arg in ("--trusted-kid", kid)]
    result = runner.invoke(audit, ["verify", "--file", str(out), *pins])
    assert result.exit_code == 0 and '"ok":true' in result.output, result.output
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 0 and '"ok":true' in result.output, result.output
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    out.write_bytes(bytes(raw))
    result = runner.invoke(audit, ["verify", "--file", str(out), *pins])
    assert result.exit_code == 1 and '"ok":false' in result.output


@pytest.mark.parametrize(("lo", "hi"), [(None, None), (4, 17), (7, None)])
def test_an_export_read_in_pages_is_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lo: int | None, hi: int | None
) -> None:
    """The events are read a page at a time (no snapshot held while the lines are taken):
    pages of 3 give the same bytes as one read, whole or a range, and the events appended
    while an export is under way are not in it (it ends at the head it began with)."""
    import audit.export as export

    log = open_log(f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "home")
    fill(log, 22)

    def taken() -> bytes:
        lines = export_stream(store=log.store, signer=log.signer, from_seq=lo, to_seq=hi)
        first = next(lines)  # the header: the export has begun
        fill(log, 2)  # appended meanwhile
        return first + b"".join(lines)

    whole = b"".join(export_stream(store=log.store, signer=log.signer, from_seq=lo, to_seq=hi))
    monkeypatch.setattr(export, "EVENT_PAGE", 3)
    paged = taken()
    log.close()
    strip = [line for line in paged.splitlines() if b'"exported_at"' not in line]
    assert strip[:-1] == [line for line in whole.splitlines() if b'"exported_at"' not in line][:-1]
    outcome = verify_export(paged, trusted_kids=set(log.signer.public_keys()))
    assert outcome.ok, outcome
    assert outcome.events == (hi or 22) - (lo or 1) + 1


def _trailer_signature_spare_bits(data: bytes) -> bytes:
    """The trailer's signature with the spare bits of its last base64url character
    changed: the same 64 signature bytes to a lenient decoder, other bytes on disk."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    start = data.rindex(b"signature") + len(b"signature")
    while data[start] not in alphabet:  # past the quotes and the colon (CSV doubles quotes)
        start += 1
    end = start
    while data[end] in alphabet:
        end += 1
    last = alphabet.index(data[end - 1])
    return data[: end - 1] + bytes([alphabet[last ^ 1]]) + data[end:]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_trailer_line_is_covered_byte_for_byte(exports: dict[str, bytes], fmt: str) -> None:
    """The one line the digest does not cover is the trailer itself: every byte of it
    must still matter (hypothesis found, once in many runs, a change that verified: the
    signature's spare base64 bits, and the CSV trailer row's kind column)."""
    original = exports[fmt]
    assert not verify_export(_trailer_signature_spare_bits(original), trusted_kids=PINNED).ok
    if fmt == "csv":
        cut = original.rindex(b"\ntrailer,") + 1
        for kind in (b"Trailer,", b"checkpoint,", b"key,"):
            changed = original[:cut] + kind + original[cut + len(b"trailer,") :]
            assert not verify_export(changed, trusted_kids=PINNED).ok, kind
        extra = original[:cut] + b"trailer,1" + original[cut + len(b"trailer,") :]
        assert not verify_export(extra, trusted_kids=PINNED).ok
