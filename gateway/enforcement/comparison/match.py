"""The join of a comparison: two masked sides matched on their key tokens (Arrow).

Pure table work, apart from the broker and the trail, so it can be read and tested on
its own: which rows match, in what order, how the output columns are named, and which
people the matches name.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pac

from gateway.enforcement.query.subjects import MAX_TOKENS, SUBJECT_COLUMN

KEY_COLUMN = "key_token"
SIDES = ("left", "right")


def match(
    left: pa.Table, left_key: str, right: pa.Table, right_key: str, *, limit: int
) -> tuple[pa.Table, bool]:
    """Inner join on the key tokens (a null key matches nothing); columns come out as
    ``key_token``, ``left.<field>``…, ``right.<field>``…, rows ordered by token, cut to
    ``limit`` (and whether it was cut).

    A key shared by many rows on both sides multiplies: two million-row sides on a
    low-cardinality key would join to 10^12 rows. So the join size is counted per token
    first and only the rows that can reach the first ``limit`` matches are joined:
    never much more than ``limit`` rows are materialised.
    """
    sides = []
    for label, table, key in (("left", left, left_key), ("right", right, right_key)):
        names = [KEY_COLUMN if n == key else f"{label}.{n}" for n in table.column_names]
        renamed = table.rename_columns(names)
        index = names.index(KEY_COLUMN)
        sides.append(renamed.set_column(index, KEY_COLUMN, renamed.column(index).cast(pa.string())))
    counts = [
        s.group_by(KEY_COLUMN).aggregate([(KEY_COLUMN, "count")]).rename_columns(
            [KEY_COLUMN, f"n{i}"]
        )
        for i, s in enumerate(sides)
    ]  # fmt: skip
    per_key = counts[0].join(counts[1], keys=KEY_COLUMN, join_type="inner").sort_by(KEY_COLUMN)
    n0, n1 = (per_key.column(n).cast(pa.int64()) for n in ("n0", "n1"))
    products = pac.multiply(n0, n1)
    total = pac.sum(products).as_py() or 0
    truncated = total > limit
    if truncated:  # keep whole keys up to the limit, and of the last key only enough rows
        before = pac.subtract(pac.cumulative_sum(products), products)
        keep = per_key.filter(pac.less(before, limit))
        last = keep.num_rows - 1
        need = limit - before[last].as_py()
        n_right = keep.column("n1")[last].as_py()
        last_key = keep.column(KEY_COLUMN)[last]
        whole = keep.column(KEY_COLUMN).slice(0, last)
        rows = (-(-need // n_right), min(n_right, need))  # left rows, right rows
        sides = [
            pa.concat_tables([
                s.filter(pac.is_in(s.column(KEY_COLUMN), value_set=whole)),
                s.filter(pac.equal(s.column(KEY_COLUMN), last_key)).slice(0, n),
            ])
            for s, n in zip(sides, rows, strict=True)
        ]  # fmt: skip
    joined = sides[0].join(sides[1], keys=KEY_COLUMN, join_type="inner")
    order = [KEY_COLUMN] + [n for s in sides for n in s.column_names if n != KEY_COLUMN]
    joined = joined.select(order).sort_by(KEY_COLUMN).combine_chunks()
    return (joined.slice(0, limit) if truncated else joined), truncated


def take_subjects(joined: pa.Table) -> tuple[pa.Table, list[str], bool]:
    """The matches without their subject-token columns, the distinct tokens of the
    matched rows (up to ``MAX_TOKENS``, in match order) and whether more matched."""
    names = [f"{label}.{SUBJECT_COLUMN}" for label in SIDES]
    present = [n for n in names if n in joined.column_names]
    seen: dict[str, None] = {}
    truncated = False
    for name in present:
        column = pac.unique(pac.drop_null(joined.column(name).combine_chunks()))
        for token in column.to_pylist():
            if token in seen:
                continue
            if len(seen) >= MAX_TOKENS:
                truncated = True
                break
            seen[str(token)] = None
    return (joined.drop_columns(present) if present else joined), list(seen), truncated
