"""The expected vectors of the issue-16 masks (``data/masking_vectors_issue16.json``, in
the shape of ``../shared/testdata/masking_vectors.json``), through ``mask_array`` and
``mask_batch`` as the broker calls them, in every string layout; and the mask-spec
grammar that stewards write and the catalog validates on save."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from catalog.mask_specs import PLAIN, is_mask_spec, parse_mask_spec
from catalog.schemas import FieldIn, FieldPatch
from catalog.vocabulary import MaskMethod
from gateway.enforcement.masking import derive_case_key, mask_array, mask_batch, needs_case_key

VECTORS_PATH = Path(__file__).parent / "data" / "masking_vectors_issue16.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
KEYS = VECTORS["keys"]
KEY = derive_case_key(bytes.fromhex(KEYS["secret_hex"]), KEYS["case_ref"])
CASES = [
    (spec, raw, expected)
    for spec, cases in VECTORS.items()
    if spec not in ("about", "notes", "keys")
    for raw, expected in cases
]


def _column(spec_key: str, raws: list[Any]) -> tuple[str, pa.Array]:
    spec, _, kind = spec_key.partition("|")
    if kind == "date32":
        dates = [None if r is None else datetime.date.fromisoformat(r) for r in raws]
        return spec, pa.array(dates, pa.date32())
    if kind == "timestamp":
        stamps = [None if r is None else datetime.datetime.fromisoformat(r) for r in raws]
        return spec, pa.array(stamps, pa.timestamp("us"))
    return spec, pa.array(raws, pa.type_for_alias(kind or "string"))


def _plain(values: list[Any]) -> list[Any]:
    return [v.isoformat() if isinstance(v, datetime.date) else v for v in values]


@pytest.mark.parametrize(("spec_key", "raw", "expected"), CASES)
def test_vector(spec_key: str, raw: Any, expected: Any) -> None:
    spec, column = _column(spec_key, [raw])
    out = mask_array(column, spec, hash_key=KEY)
    out.validate(full=True)
    assert _plain(out.to_pylist()) == [expected]


@pytest.mark.parametrize("spec_key", sorted({k for k, _, _ in CASES}))
def test_vectors_as_one_column_chunked_and_in_a_batch(spec_key: str) -> None:
    cases = [(raw, exp) for k, raw, exp in CASES if k == spec_key]
    spec, column = _column(spec_key, [raw for raw, _ in cases])
    expected = [exp for _, exp in cases]
    assert _plain(mask_array(column, spec, hash_key=KEY).to_pylist()) == expected
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(2)])
    assert _plain(mask_array(chunked, spec, hash_key=KEY).to_pylist()) == expected
    batch = pa.RecordBatch.from_arrays([column, pa.array(range(len(column)))], ["v", "n"])
    out = mask_batch(batch, {"v": spec}, hash_key=KEY)
    assert _plain(out.column(0).to_pylist()) == expected
    assert out.column(1).equals(batch.column(1))


@pytest.mark.parametrize("spec_key", sorted({k for k, _, _ in CASES if "|" not in k}))
def test_text_vectors_as_large_string(spec_key: str) -> None:
    cases = [(raw, exp) for k, raw, exp in CASES if k == spec_key]
    column = pa.array([raw for raw, _ in cases], pa.large_string())
    out = mask_array(column, spec_key, hash_key=KEY)
    out.validate(full=True)
    assert out.to_pylist() == [exp for _, exp in cases]


def test_every_new_method_has_vectors() -> None:
    named = {parse_mask_spec(k.partition("|")[0]).method for k, _, _ in CASES}
    new = set(MaskMethod) - {
        MaskMethod.ID_NUMBER_PARTIAL, MaskMethod.PHONE_PARTIAL, MaskMethod.NAME_SURNAME,
        MaskMethod.BANK_CARD_LAST4, MaskMethod.ADDRESS_DISTRICT, MaskMethod.BIRTH_DATE_YEAR,
        MaskMethod.HASH, MaskMethod.REDACT,
    }  # fmt: skip
    assert new <= named


def test_keyed_masks_need_the_case_key() -> None:
    assert {m for m in MaskMethod if m in PLAIN and needs_case_key(m)} == {
        MaskMethod.HASH, MaskMethod.DATE_SHIFT, MaskMethod.ID_NUMBER_FPE
    }  # fmt: skip
    for method in ("date_shift", "id_number_fpe"):
        with pytest.raises(ValueError, match="case key"):
            mask_array(pa.array(["2024-05-04"]), method)


@pytest.mark.parametrize(
    "text",
    ["round:100", "bucket:-5,0,500", "keep_first:1", "keep_last:64", "replace:#{4}",
     "replace:有限公司", "replace:a-b.c/d:(x)+ ?", "date_shift", "id_number_fpe", "hash"],
)  # fmt: skip
def test_valid_specs_are_canonical(text: str) -> None:
    assert parse_mask_spec(text).text == text and is_mask_spec(text)
    assert FieldPatch.model_validate({"mask_override": text}).mask_override == text


@pytest.mark.parametrize(
    "text",
    ["", "round", "round:", "round:0", "round:01", "round:-5", "round:1.5", "bucket:5,5",
     "bucket:1,2,3,4,5,6,7,8,9", "keep_first:0", "keep_last:65", "hash:1", "nope",
     "replace:", "replace:\\d+", "replace:#{0}", "replace:#{33}", "replace:#{", "replace:.*",
     'replace:"', "replace:a|b", "replace:(a)*", "replace:" + "#" * 17, "x" * 33,
     "Round:100", "round :100"],
)  # fmt: skip
def test_invalid_specs_are_refused_on_save(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mask_spec(text)
    assert not is_mask_spec(text)
    for model in (FieldPatch, FieldIn):
        body: dict[str, Any] = {"mask_override": text}
        if model is FieldIn:
            body["name"] = "amount"
        with pytest.raises(ValidationError) as caught:
            model.model_validate(body)
        assert caught.value.errors()[0]["loc"] == ("mask_override",)
