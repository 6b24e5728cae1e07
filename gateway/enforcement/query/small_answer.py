"""A small JSON answer straight from the source's row tuples, no Arrow batch (issue 17).

The Arrow path of a 20-row answer builds a batch from ~21 row tuples, notes its subject
tokens and counties, masks it column by column, cuts it to the limit and reads it back
into Python for ``orjson`` (``Reader._masked``, ``JsonEncoder``): each step is cheap on
its own, but together they were ~0.2-0.45 ms of the request's CPU in the server
(``python -m bench.steps``). Here the same steps run on the tuples' values in one pass:

- the values as the batch would hold them (``adapters.arrow_values.plain_values``);
- subject tokens and counties of every row read, the one past the limit too
  (``SubjectTokens.collect_values``, ``add_counties``: ``collect`` and ``counties``'
  own per-value paths);
- each mask on the values (``gateway.enforcement.masking.values``);
- cut at the limit (truncated when a row was past it) and the released columns only;
- JSON rows as ``json_lines`` writes a small batch's (``orjson`` of each row's dict).

Only what is certain is answered here: a plan with token filters, an offset after them,
an aggregate or a comparison's subject column is not read this way at all
(``eligible``); for rows read, any value, type or mask not certain to give the Arrow
path's answer (``None`` from the steps above), more than ``SMALL_MAX`` rows, or an
unexpected error hands the same rows to the Arrow path (``Reader.batches_of``), which
stays the reference and answers or raises as it always did. So the bytes sent — hence
the end record's ``rows``, ``bytes_sent`` and ``result_sha256`` — the subject tokens and
counties are those of the Arrow path; ``tests/gateway/enforcement/query/
test_small_answer.py`` checks them equal (hypothesis, every mask of the registry).
"""

from __future__ import annotations

from typing import Any

from adapters.arrow_values import plain_values
from adapters.base import RowsRead
from gateway.enforcement.masking.small import SMALL_MAX
from gateway.enforcement.masking.values import mask_values
from gateway.enforcement.query.entries import Entry
from gateway.enforcement.query.plan import ExecutionPlan
from gateway.enforcement.query.subjects import SubjectTokens


def eligible(plan: ExecutionPlan) -> bool:
    """Whether the plan's result may be answered from its rows here: a plain read of at
    most ``SMALL_MAX`` rows (and the one past the limit)."""
    source_limit = plan.source.limit
    return (
        plan.aggregate is None
        and not plan.post_filters
        and not plan.skip
        and plan.subject_column is None
        and not plan.key_hashes
        and plan.limit > 0
        and source_limit is not None
        and source_limit <= SMALL_MAX + 1
    )


class Answer:
    """A small answer's rows as dicts, and what its read adds to the progress."""

    __slots__ = ("counties", "rows", "tokens", "truncated")

    def __init__(
        self, rows: list[dict[str, Any]], tokens: list[str], counties: list[Any], truncated: bool
    ) -> None:
        self.rows = rows
        self.tokens = tokens
        self.counties = counties  # the region field's values (``add_counties``)
        self.truncated = truncated


def answer(
    read: RowsRead, entry: Entry, plan: ExecutionPlan, subjects: SubjectTokens, have: int
) -> Answer | None:
    """The answer of ``read`` (``have``: subject tokens noted before), or ``None``
    where it is not certain to be the Arrow path's."""
    try:
        return _answer(read, entry, plan, subjects, have)
    except Exception:  # unforeseen here: the reference path answers, or raises
        return None


def _answer(
    read: RowsRead, entry: Entry, plan: ExecutionPlan, subjects: SubjectTokens, have: int
) -> Answer | None:
    rows = read.rows
    if len(rows) > SMALL_MAX:
        return None
    read_columns = plan.source.columns
    names = [c.name for c in read_columns]
    if len(set(names)) != len(names) or not set(plan.masks) <= set(names):
        return None  # mask_batch raises for a mask of a column not read
    types = {c.name: c.type for c in read_columns}
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    columns: dict[str, list[Any]] = {}
    for name, values in zip(names, transposed, strict=True):
        plain = plain_values(values, types[name])
        if plain is None:
            return None
        columns[name] = plain
    tokens = subjects.collect_values(columns, types, entry, have)
    if tokens is None:
        return None
    sent = columns.copy()
    for name, method in plan.masks.items():
        masked = mask_values(columns[name], method, hash_key=plan.hash_key, logical=types[name],
                             id_number=name in plan.id_numbers)  # fmt: skip
        if masked is None:
            return None
        sent[name] = masked
    kept = min(len(rows), plan.limit)
    output = list(plan.output) if plan.output is not None else names
    if not output:  # rows of no column: ``{}`` each, as Arrow's empty selection gives
        return None
    cut = [sent[name][:kept] for name in output]
    region = entry.region_field
    counties = columns.get(region, []) if region else []
    return Answer([dict(zip(output, row, strict=True)) for row in zip(*cut, strict=True)],
                  tokens, counties, len(rows) > plan.limit)  # fmt: skip
