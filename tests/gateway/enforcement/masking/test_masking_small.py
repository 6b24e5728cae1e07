"""The small-batch masking path (plain Python per value) gives exactly what the
vectorised path gives: values, nulls and type, for every method, on random text (CJK,
empty, short, odd lengths, nulls), on value shapes near each mask's rules, and on the
demo data. ``mask_array(..., small_max=0)`` is the vectorised reference."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from functools import cache
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.demo.generator import Sizes, generate
from catalog.demo.tables import TableSpec
from catalog.demo.targets import Row, Target
from catalog.vocabulary import COMPOUND_SURNAMES, MaskMethod
from gateway.enforcement.masking import derive_case_key, mask_array, mask_batch
from gateway.enforcement.masking.partial import NAME_DOTS
from gateway.enforcement.masking.small import SMALL_MAX, TEXT_VALUE_MASKS, mask_small_text
from gateway.enforcement.masking.tokens import hash_array, hash_token

KEY = derive_case_key(b"k" * 32, "case-small")
# the methods with a per-value small path (the issue-16 masks are vectorised only)
METHODS = [str(m) for m in MaskMethod if m in TEXT_VALUE_MASKS or m in ("hash", "redact")]
TEXT_METHODS = [m for m in METHODS if m != MaskMethod.REDACT]


def assert_same(values: pa.Array | pa.ChunkedArray, method: str) -> pa.Array:
    """The small path's answer, after checking it against the vectorised one."""
    fast = mask_array(values, method, hash_key=KEY)
    reference = mask_array(values, method, hash_key=KEY, small_max=0)
    fast.validate(full=True)
    assert fast.type == reference.type
    assert fast.to_pylist() == reference.to_pylist()
    assert fast.equals(reference)
    return fast


# --- random text ------------------------------------------------------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
RARE_HAN = st.sampled_from(["\u3400", "\u4db5", "\u9fa6", "\u9fff", "\U00020000", "\U0002a6d6"])
SPECIAL = st.sampled_from(
    [*"省市区县旗州盟自治特别行政地", *"0123456789Xx+-/. :TZ年月日", *NAME_DOTS, "\t", "\n", "\v",
     "\x0c", "\r", " ", "\u3000", "\u00a0", "😀", "é", "ア", "한", "Ⅻ", "٣", "１"]
)  # fmt: skip
TEXT = st.one_of(
    st.text(max_size=24),
    st.text(alphabet=st.one_of(CJK, SPECIAL, RARE_HAN), max_size=24),
    st.text(alphabet=CJK, min_size=1, max_size=40),
)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


ID_NUMBERS = st.one_of(
    st.builds(lambda d, last: d + last, digits(17), st.sampled_from("0123456789Xx")),
    digits(15),
    st.builds(lambda d, tail: d + tail, digits(16), st.sampled_from(["XX", "xX", "X1", "１2"])),
)
PHONES = st.one_of(
    st.builds(
        lambda p, d: p + "1" + d, st.sampled_from(["", "+86", "0086", "+86-", "0086 "]), digits(10)
    ),
    st.builds(
        lambda p, a, d: f"{p}0{a}-{d}",
        st.sampled_from(["", "+86", "+86-", "+86 "]),
        st.one_of(digits(2), digits(3)),
        st.one_of(digits(7), digits(8)),
    ),
    st.builds(lambda d: "1" + d, st.one_of(digits(9), digits(10), digits(11))),
)
CARDS = st.integers(10, 21).flatmap(digits)
DATES = st.one_of(
    st.builds(
        lambda y, m, d, sep: f"{y:04d}{sep}{m:0{len(str(m))}d}{sep}{d:02d}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from("-/."),
    ),
    st.builds(
        lambda y, m, d: f"{y:04d}{m:02d}{d:02d}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.builds(
        lambda y, m, d: f"{y}年{m}月{d}日",
        st.integers(1000, 2100),
        st.integers(1, 12),
        st.integers(1, 31),
    ),
    st.builds(
        lambda y, t: f"{y}-05-04{t}",
        st.integers(1900, 2100),
        st.sampled_from(["T10:00:00Z", " 10:00", "T1:2:3+0800", "T", "Z"]),
    ),
    digits(8),
    digits(10),
)
NAMES = st.one_of(
    st.builds(
        lambda s, rest: s + rest,
        st.sampled_from(COMPOUND_SURNAMES),
        st.text(alphabet=CJK, max_size=3),
    ),
    st.text(alphabet=CJK, min_size=1, max_size=4),
    st.builds(
        lambda a, dot, b: a + dot + b,
        st.text(alphabet=CJK, max_size=4),
        st.sampled_from(NAME_DOTS),
        st.text(alphabet=CJK, max_size=4),
    ),
    st.text(alphabet=CJK, min_size=31, max_size=34),
)
ADDRESSES = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(["", "湖南省", "广西壮族自治区", "香港特别行政区", "北京", " "]),
    st.sampled_from(["", "长沙市", "湘西土家族苗族自治州", "大兴安岭地区", "锡林郭勒盟"]),
    st.sampled_from(["", "芙蓉区", "长沙县", "浏阳市", "科尔沁右翼前旗", "城步苗族自治县"]),
    st.sampled_from(["", "五一大道1号", "开元路 8 号", "小区3栋", "市府路", "\v区", "\u3000县"]),
)
SHAPED = st.one_of(ID_NUMBERS, PHONES, CARDS, DATES, NAMES, ADDRESSES)
# where Python's and Arrow's (RE2's, utf8proc's) notions of digit, space and letter differ
TRICKY = st.sampled_from(
    ["\v", "\x1c", "\x85", "\u00a0", "\u3000", "\n", "１", "٣", "²", "Ⅻ", "\u9fa6", "\u3400",
     "\U00020000", "ア", "한", "é", "·", "-", " ", "X", "区", "县", "市", "0", ""]
)  # fmt: skip


def mutate(value: str, at: int, char: str) -> str:
    """``value`` with one character replaced (or removed, for ``""``)."""
    if not value:
        return char
    at %= len(value)
    return value[:at] + char + value[at + 1 :]


UNICODE_DIGITS = st.sampled_from(["１", "٣", "²", "߁", "৪"])
ENDINGS = st.sampled_from(["\n", " ", "\r\n", "\v", "x"])


def near(shaped: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Values of a shape and values one edit away from it: a tricky character in place
    of one (a non-ASCII digit: RE2's ``\\d`` and Arrow's ``ascii_*`` say no), or a
    trailing newline (Python's ``$`` would still match before it)."""
    return st.one_of(
        shaped,
        st.builds(mutate, shaped, st.integers(0, 24), st.one_of(TRICKY, UNICODE_DIGITS)),
        st.builds(lambda v, c: v + c, shaped, ENDINGS),
    )


SHAPES = {
    "id_number_partial": ID_NUMBERS,
    "phone_partial": PHONES,
    "bank_card_last4": CARDS,
    "birth_date_year": DATES,
    "name_surname": NAMES,
    "address_district": ADDRESSES,
    "hash": NAMES,
    "redact": NAMES,
}
VALUES = st.one_of(st.none(), TEXT, near(SHAPED))


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=200, deadline=None)
@given(data=st.data(), large=st.booleans())
def test_small_path_equals_vectorised(method: str, data: st.DataObject, large: bool) -> None:
    """Values near the method's own shape, and anything else."""
    own = st.one_of(st.none(), near(SHAPES[method]))
    values = data.draw(st.lists(st.one_of(own, own, VALUES), max_size=30))
    assert_same(pa.array(values, pa.large_string() if large else pa.string()), method)


ADDRESS_TEXT = st.text(
    alphabet=st.sampled_from(
        [*"省市区县旗州盟", *"自治特别行政地", *"湖南长沙北京甲", " ", "\t", "\v", "\x1c", "\x85",
         "\u00a0", "\u3000", "\n", "1", "a", "😀", "é"]
    ),
    max_size=16,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), ADDRESS_TEXT), max_size=30))
def test_address_whitespace_and_units(values: list[str | None]) -> None:
    """RE2's ``\\s`` is ASCII-only: a vertical tab or an ideographic space is a unit."""
    assert_same(pa.array(values, pa.string()), "address_district")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ID_NUMBERS, PHONES, CARDS, DATES, NAMES, ADDRESSES), max_size=30))
def test_python_answers_are_the_vectorised_answers(values: list[str]) -> None:
    """Per method, whatever the Python path answers itself (not handing over) is the
    vectorised answer: checked here directly, not through ``mask_array``."""
    arr = pa.array(values, pa.string())
    for method in TEXT_METHODS:
        mine = mask_small_text(arr, method, KEY)
        if mine is not None:
            reference = mask_array(arr, method, hash_key=KEY, small_max=0)
            assert mine.type == reference.type and mine.equals(reference), method


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.dates()), max_size=30), st.booleans())
def test_birth_year_of_date_columns(dates: list[datetime.date | None], wide: bool) -> None:
    assert_same(pa.array(dates, pa.date64() if wide else pa.date32()), "birth_date_year")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=30))
def test_non_string_columns(ints: list[int | None]) -> None:
    for method in METHODS:
        assert_same(pa.array(ints, pa.int64()), method)


@pytest.mark.parametrize("method", METHODS)
def test_edges(method: str) -> None:
    for values in ([], [None], [None, None], [""], ["", None, "a"], ["张"], ["张三"] * 3):
        assert_same(pa.array(values, pa.string()), method)
    chunked = pa.chunked_array([pa.array(["13812345678", None]), pa.array(["张三", ""])])
    assert_same(chunked, method)
    assert_same(pa.array(["欧阳娜娜", "欧阳娜娜", None]).dictionary_encode(), method)
    assert_same(pa.array(["x"] * SMALL_MAX), method)
    assert_same(pa.array(["x"] * (SMALL_MAX + 1)), method)


def test_hash_tokens_unchanged() -> None:
    """The small path's tokens are the vectorised ones and ``hash_token``'s."""
    values = ["430102199003074518", "张三", "", "430102199003074518", None]
    out = assert_same(pa.array(values), "hash").to_pylist()
    assert out == [None if v is None else hash_token(v, KEY) for v in values]
    assert hash_array(pa.array(values), KEY).to_pylist() == out


def test_unknown_method_and_missing_key_still_raise() -> None:
    with pytest.raises(ValueError):
        mask_array(pa.array(["x"]), "no_such_method")
    with pytest.raises(ValueError):
        mask_array(pa.array(["x"]), "hash")


# --- the demo data ----------------------------------------------------------------------

DEMO_METHODS = {
    "id_number": ["id_number_partial", "hash"],
    "name": ["name_surname"],
    "phone": ["phone_partial"],
    "address": ["address_district"],
    "bank_card": ["bank_card_last4"],
    "start_date": ["birth_date_year"],
    "paid_date": ["birth_date_year"],
    "death_date": ["birth_date_year"],
}


class _Collect(Target):
    """Keeps the generated rows' values by column name, in memory."""

    label = "memory"

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = defaultdict(list)

    def begin_table(self, spec: TableSpec) -> None:
        return None

    def write_batch(self, spec: TableSpec, rows: Sequence[Row]) -> None:
        for index, name in enumerate(spec.column_names):
            self.columns[name].extend(row[index] for row in rows)

    def end_table(self, spec: TableSpec) -> None:
        return None

    def close(self) -> None:
        return None


@cache
def demo_columns() -> dict[str, list[Any]]:
    target = _Collect()
    sizes = Sizes(
        payroll=600, fund_disbursements=200, dibao_recipients=1200,
        death_registrations=300, audit_findings=50,
    )  # fmt: skip
    generate(seed=42, sizes=sizes, targets=[target])
    return dict(target.columns)


@pytest.mark.parametrize(
    ("column", "method"), [(c, m) for c, methods in DEMO_METHODS.items() for m in methods]
)
def test_demo_data(column: str, method: str) -> None:
    """Every demo value is answered by the Python path itself (no hand-over to the
    vectorised path), and the answers are the vectorised ones."""
    values = [None if v is None else str(v) for v in demo_columns()[column]]
    assert values
    for start in range(0, len(values), SMALL_MAX):
        arr = pa.array(values[start : start + SMALL_MAX], pa.string())
        assert mask_small_text(arr, method, KEY) is not None, (column, method)
        assert_same(arr, method)


@pytest.mark.parametrize("method", TEXT_METHODS)
def test_demo_text_under_every_method(method: str) -> None:
    """All demo string columns under every method (mostly malformed for the method)."""
    for values in demo_columns().values():
        texts = [v for v in values[:SMALL_MAX] if v is None or isinstance(v, str)]
        assert_same(pa.array(texts, pa.string()), method)


def test_small_query_batch() -> None:
    """The small bench query's shape: 20 rows, 3 masked columns, 2 passed through."""
    demo = demo_columns()
    batch = pa.RecordBatch.from_pydict(
        {name: demo[name][:20] for name in ("id_number", "name", "phone", "region_code")}
    )
    masks = {"id_number": "id_number_partial", "name": "name_surname", "phone": "phone_partial"}
    out = mask_batch(batch, masks, hash_key=KEY)
    assert out.column(3).equals(batch.column(3))
    for name, method in masks.items():
        reference = mask_array(batch.column(name), method, small_max=0)
        assert out.column(name).equals(reference)


@pytest.mark.parametrize("rows", [3, 20, SMALL_MAX, SMALL_MAX + 1, 1500])
def test_subject_tokens_small_and_large_batches(tmp_path: Any, rows: int) -> None:
    """``SubjectTokens.collect`` gives the same tokens on its Python path (small batches)
    as on the Arrow path, nulls skipped, capped at ``MAX_TOKENS``."""
    from types import SimpleNamespace

    from sqlalchemy.orm import sessionmaker

    from gateway.enforcement.query.subjects import MAX_TOKENS, SubjectTokens, subject_token

    # collect reads no user: the sessions are never opened
    tokens = SubjectTokens(home=tmp_path, sessions=sessionmaker())
    ids = [None if i % 7 == 3 else f"43010219900307{i % 50:04d}" for i in range(rows)]
    batch = pa.RecordBatch.from_pydict({"id_number": ids, "n": list(range(rows))})
    entry = SimpleNamespace(
        fields=[
            SimpleNamespace(name="id_number", pi_category="id_number"),
            SimpleNamespace(name="n", pi_category="id_number"),
        ]
    )
    got = tokens.collect(batch, entry, 5)  # type: ignore[arg-type]
    present = [v for v in ids if v is not None] + [str(i) for i in range(rows)]
    expected = [subject_token(tmp_path, v) for v in present][: MAX_TOKENS - 5]
    assert got == expected
