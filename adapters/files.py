"""The files adapter: CSV and Parquet read with ``pyarrow.dataset``.

Configuration (kinds ``csv`` and ``parquet``): ``settings = {"root": "<dir>"}`` — the
objects are the files of that kind under the directory, named by their path relative
to it (``2024/payments.csv``) — or ``{"path": "<file>"}`` for a single file, whose
object name is its base name. Every path goes through ``adapters.pathguard``: the
root must lie inside ``SLUICE_FILE_ROOTS``, object names are relative, without ``..``
(also percent-encoded) or NUL bytes, and symlinks out of the root are refused. There
is no secret.

Execution pushes projection and filters into the dataset scan (``columns=``,
``filter=`` built by ``adapters.arrow_filters``; for Parquet, row-group statistics
prune reads) and streams ``to_batches``; offset and limit are applied while streaming.
Aggregates (issue 16) scan the same way and group with Arrow (``aggregate``).
CSV files are read with the catalog's types (``ConvertOptions.column_types``) so that
a code like ``007`` stays a string. CSV has no types of its own and Arrow infers digit
codes (region codes, phone and ID numbers) as integers, which would lose leading zeros
and leave a region field unusable for row filters; a CSV source may therefore declare
``settings["column_types"] = {"region_code": "string", ...}`` (catalog logical types),
which introspection uses instead of inference for the columns it names. ``order_by``
cannot stream: the filtered result is counted first and sorted in memory only if it
holds at most ``limits.max_rows`` rows, otherwise ``TooLarge``. The statement timeout
bounds the time spent reading (not the time the consumer takes between batches).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from adapters.aggregate import AggregatePlan, ArrowGrouper, check_aggregate_plan, rows_plan
from adapters.arrow_filters import needed_columns, plan_expression
from adapters.arrow_types import (
    arrow_type,
    conform,
    logical_from_arrow,
    sample_table,
    schema_for,
    with_schema_batch,
)
from adapters.base import (
    AdapterLimits,
    Column,
    ObjectInfo,
    QueryPlan,
    SourceAdapter,
    SourceConfig,
)
from adapters.pathguard import check_text, ensure_inside_roots, is_inside, resolve_object
from adapters.plan import CheckedPlan, check_plan
from adapters.read_errors import file_failure
from adapters.registry import AdapterRegistry
from catalog.errors import (
    BadRequest,
    SchemaChanged,
    SluiceError,
    SourceFailed,
    SourceTimeout,
    TooLarge,
)
from catalog.vocabulary import FIELD_TYPES

EXTENSIONS = {"csv": (".csv",), "parquet": (".parquet", ".parq", ".pq")}
MAX_FILES = 10_000


def _declared_types(config: SourceConfig) -> dict[str, str]:
    """A CSV source's ``settings.column_types`` (checked), overriding inference."""
    declared = config.settings.get("column_types")
    if declared is None:
        return {}
    if config.kind != "csv":
        raise BadRequest("settings.column_types applies to csv sources only")
    if not isinstance(declared, dict) or not all(
        isinstance(k, str) and k and v in FIELD_TYPES for k, v in declared.items()
    ):
        raise BadRequest(
            f"settings.column_types maps column names to one of {', '.join(FIELD_TYPES)}"
        )
    return dict(declared)


def _settings_path(config: SourceConfig) -> tuple[str, bool]:
    """(path, is_single_file) from settings, with its text checked."""
    root, path = config.settings.get("root"), config.settings.get("path")
    if (root is None) == (path is None):
        raise BadRequest("a file source needs exactly one of settings.root or settings.path")
    value = root if root is not None else path
    check_text(value, what="source path", relative=False)
    return str(value), path is not None


class FileAdapter(SourceAdapter):
    """A directory (or one file) of CSV or Parquet files."""

    def __init__(self, config: SourceConfig, limits: AdapterLimits) -> None:
        self.kind = config.kind
        self._limits = limits
        path, single = _settings_path(config)
        self._single = single
        self._path = path
        self._declared = _declared_types(config)

    # -- paths ------------------------------------------------------------------------

    def _real_root(self) -> str:
        real = ensure_inside_roots(self._path, self._limits.file_roots, what="file source")
        return os.path.dirname(real) if self._single else real

    def _resolve(self, name: str) -> str:
        real_root = self._real_root()
        if self._single and name != os.path.basename(self._path):
            check_text(name, what="file name", relative=True)
            raise BadRequest(f"this source has no file {name!r}")
        real = resolve_object(real_root, name, self._limits.file_roots)
        if not real.lower().endswith(EXTENSIONS[self.kind]):
            raise BadRequest(f"{name!r} is not a {self.kind} file")
        return real

    def _names(self) -> list[str]:
        if self._single:
            self._resolve(os.path.basename(self._path))
            return [os.path.basename(self._path)]
        real_root = self._real_root()
        names: list[str] = []
        for dirpath, _dirs, files in os.walk(real_root):
            for file in sorted(files):
                full = os.path.join(dirpath, file)
                if not file.lower().endswith(EXTENSIONS[self.kind]):
                    continue
                if not is_inside(os.path.realpath(full), real_root):
                    continue  # a symlink out of the root is not an object of this source
                names.append(os.path.relpath(full, real_root).replace(os.sep, "/"))
            if len(names) > MAX_FILES:
                raise BadRequest(f"the source holds more than {MAX_FILES} files")
        return sorted(names)

    def _dataset(self, real: str, known: tuple[Column, ...] | None) -> ds.Dataset:
        if self.kind == "csv":
            types = {c.name: arrow_type(c.type) for c in known} if known else None
            fmt: Any = ds.CsvFileFormat(
                convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
            )
        else:
            fmt = ds.ParquetFileFormat()
        try:
            return ds.dataset(real, format=fmt)
        except (OSError, pa.ArrowException) as exc:
            raise SourceFailed(
                f"cannot read {os.path.basename(real)!r}: {file_failure(exc)}"
            ) from None

    # -- interface --------------------------------------------------------------------

    def test_connection(self) -> None:
        self._names()

    def list_objects(self) -> list[ObjectInfo]:
        return [self.describe(name) for name in self._names()]

    def describe(self, name: str) -> ObjectInfo:
        """Columns of one file: declared types (CSV), else as Arrow infers or stores them."""
        dataset = self._dataset(self._resolve(name), None)
        columns = tuple(
            Column(f.name, self._declared.get(f.name) or logical_from_arrow(f.type))
            for f in dataset.schema
        )
        return ObjectInfo(name=name, columns=columns, kind="file")

    def sample(self, object_name: str, *, rows: int) -> pa.Table:
        return sample_table(self, self.describe(object_name), rows=rows, limits=self._limits)

    def execute(self, plan: QueryPlan) -> Iterator[pa.RecordBatch]:
        checked = check_plan(plan, self._limits)
        real = self._resolve(plan.object_name)
        dataset = self._dataset(real, plan.known_columns)
        missing = [n for n in needed_columns(checked) if n not in dataset.schema.names]
        if missing:
            raise SchemaChanged(
                f"the file's schema changed: it has no column {missing[0]!r} any more; "
                "a steward must refresh the catalog entry"
            )
        batches = self._guarded(self._scan(dataset, checked))
        return with_schema_batch(batches, schema_for(plan.columns))

    def aggregate(self, plan: AggregatePlan) -> pa.Table:
        """Every group of ``plan``: the row filter pushed into the scan (Parquet
        statistics prune), each batch grouped by ``Table.group_by(...).aggregate``
        and the partials combined (``adapters.aggregate.ArrowGrouper``)."""
        check_aggregate_plan(plan)
        checked = check_plan(rows_plan(plan), self._limits)
        real = self._resolve(checked.plan.object_name)
        dataset = self._dataset(real, checked.plan.known_columns)
        missing = [n for n in needed_columns(checked) if n not in dataset.schema.names]
        if missing:
            raise SchemaChanged(
                f"the file's schema changed: it has no column {missing[0]!r} any more; "
                "a steward must refresh the catalog entry"
            )
        schema = schema_for(checked.plan.columns)
        scanner = dataset.scanner(columns=schema.names, filter=plan_expression(checked),
                                  batch_size=checked.plan.batch_size)  # fmt: skip
        grouper = ArrowGrouper(plan)
        for batch in self._guarded(scanner.to_batches()):
            grouper.add(conform(batch, schema))
        return grouper.result()

    def _scan(self, dataset: ds.Dataset, checked: CheckedPlan) -> Iterator[pa.RecordBatch]:
        plan = checked.plan
        out_schema = schema_for(plan.columns)
        names = needed_columns(checked) if plan.order_by else [c.name for c in plan.columns]
        scanner = dataset.scanner(
            columns=names, filter=plan_expression(checked), batch_size=plan.batch_size
        )
        if plan.order_by:
            yield from self._sorted(scanner, checked, out_schema)
            return
        to_skip, to_send = checked.offset, checked.limit
        for batch in scanner.to_batches():
            if to_skip >= batch.num_rows:
                to_skip -= batch.num_rows
                continue
            batch = batch.slice(to_skip, to_send)
            to_skip = 0
            to_send -= batch.num_rows
            if batch.num_rows:
                yield from conform(batch, out_schema).to_batches()
            if to_send <= 0:
                return

    def _sorted(
        self, scanner: ds.Scanner, checked: CheckedPlan, out_schema: pa.Schema
    ) -> Iterator[pa.RecordBatch]:
        if scanner.count_rows() > self._limits.max_rows:
            raise TooLarge(
                f"ordering needs the whole filtered result in memory; it holds more than "
                f"{self._limits.max_rows} rows — add filters or drop the order"
            )
        keys = [
            (o.field, "descending" if o.descending else "ascending") for o in checked.plan.order_by
        ]
        table = scanner.to_table().sort_by(keys).slice(checked.offset, checked.limit)
        yield from conform(table, out_schema).to_batches(max_chunksize=checked.plan.batch_size)

    def _guarded(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Translate Arrow errors and enforce the read-time budget between batches."""
        budget = self._limits.statement_timeout_s
        spent = 0.0
        while True:
            started = time.monotonic()
            try:
                batch = next(batches, None)
            except SluiceError:
                raise
            except (OSError, pa.ArrowException) as exc:
                raise SourceFailed(f"cannot read the file: {file_failure(exc)}") from None
            spent += time.monotonic() - started
            if spent > budget:
                raise SourceTimeout(f"reading the file took longer than {budget:g} s")
            if batch is None:
                return
            yield batch

    def close(self) -> None:
        """Nothing to release: files are opened per scan."""


class FileFactory:
    """Factory for ``csv`` and ``parquet`` (see ``adapters.registry.AdapterFactory``)."""

    def validate(self, config: SourceConfig, limits: AdapterLimits) -> None:
        _declared_types(config)
        path, single = _settings_path(config)
        real = ensure_inside_roots(path, limits.file_roots, what="file source")
        if single and not os.path.isfile(real):
            raise BadRequest("settings.path must name a file")
        if not single and not os.path.isdir(real):
            raise BadRequest("settings.root must name a directory")

    def open(self, config: SourceConfig, limits: AdapterLimits) -> FileAdapter:
        return FileAdapter(config, limits)

    def redact(self, config: SourceConfig) -> str:
        where = config.settings.get("root") or config.settings.get("path") or "?"
        return f"{config.kind}:{where}"


def register(registry: AdapterRegistry) -> None:
    factory = FileFactory()
    for kind in EXTENSIONS:
        registry.register(kind, factory)
