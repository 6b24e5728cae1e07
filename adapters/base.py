"""The one interface every source adapter implements, and the query plan it executes.

A plan only ever carries identifiers that came from the catalog (the broker checks
every name against the entry before building it); adapters still re-check names
against the plan's ``known_columns`` and bind every value as a parameter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

if TYPE_CHECKING:
    from adapters.aggregate import AggregatePlan

FilterOp = Literal["=", "!=", "<", "<=", ">", ">=", "in", "between", "prefix", "is_null"]
FILTER_OPS: tuple[str, ...] = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "between",
    "prefix",
    "is_null",
)


@dataclass(frozen=True)
class Filter:
    """One predicate: ``field op value``; ``in`` takes a list, ``between`` a pair,
    ``is_null`` a bool (True: is null, False: is not null)."""

    field: str
    op: FilterOp
    value: Any = None


@dataclass(frozen=True)
class RowFilter:
    """The policy's jurisdiction filter: keep rows whose ``field`` starts with one of
    ``prefixes``. An empty tuple means no row at all (never "no filter")."""

    field: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Column:
    """A column with its logical type (one of ``catalog.vocabulary.FIELD_TYPES``)."""

    name: str
    type: str = "string"


@dataclass(frozen=True)
class ObjectInfo:
    """An object a source exposes (table, file, endpoint) and its columns."""

    name: str
    columns: tuple[Column, ...]
    kind: str = "table"


@dataclass(frozen=True)
class QueryPlan:
    """What the broker asks a source for, already checked against policy and catalog."""

    object_name: str
    columns: tuple[Column, ...]
    known_columns: tuple[Column, ...]
    filters: tuple[Filter, ...] = ()
    row_filter: RowFilter | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None
    offset: int = 0
    batch_size: int = 65_536


@dataclass(frozen=True)
class RowsRead:
    """A small result read whole as the driver's row tuples (``small_rows``), before
    any Arrow: ``batch()`` is exactly the one batch ``execute`` would have yielded for
    them (an empty one when there is no row), for whoever cannot use the tuples."""

    rows: Sequence[Sequence[Any]]
    batch: Callable[[], pa.RecordBatch]


@dataclass(frozen=True)
class AdapterLimits:
    """Bounds every adapter applies, whatever the plan says."""

    statement_timeout_s: float = 30.0
    max_rows: int = 1_000_000
    file_roots: tuple[str, ...] = ()
    http_allow_hosts: tuple[str, ...] = ()
    sample_rows: int = 200
    # PostgreSQL servers a source may never be, as ``<system identifier>/<database>``:
    # the gateway's own catalog, however it is reached (red team 7; ``adapters.sql_config``)
    refused_servers: frozenset[str] = frozenset()
    # PostgreSQL servers another department's source reached first, as ``(identity,
    # department)``: refused on connect too, whatever address got there
    # (``gateway.enforcement.sources.server_claims``)
    claimed_servers: tuple[tuple[str, str], ...] = ()
    # told the identity of the server each new PostgreSQL connection reached (the gateway
    # stores it on the source); not part of the limits' value
    on_server: Callable[[str], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SourceConfig:
    """A source as adapters see it: kind, plain settings and the decrypted secret."""

    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None


ANY_TABLE = "*"
"""In an object's lineage: it may read any table of its system (the source cannot tell)."""


class SourceAdapter(ABC):
    """A connection to one source system. Every method raises a ``catalog.errors``
    leaf (``SourceFailed``, ``SourceTimeout``, ``BadRequest``) — never a driver error."""

    kind: str

    @abstractmethod
    def test_connection(self) -> None:
        """Raise if the source cannot be reached or refuses the credentials."""

    @abstractmethod
    def list_objects(self) -> list[ObjectInfo]:
        """Objects (tables, files, endpoints) with their columns."""

    @abstractmethod
    def sample(self, object_name: str, *, rows: int) -> pa.Table:
        """A bounded sample of rows, for classification suggestions."""

    @abstractmethod
    def execute(self, plan: QueryPlan) -> Iterator[pa.RecordBatch]:
        """Stream the plan's result as record batches whose columns are ``plan.columns``."""

    def small_rows(self, plan: QueryPlan) -> RowsRead | None:
        """A plan whose result fits one batch, read whole as row tuples; ``None`` (the
        default, and for any plan or driver the adapter reads only as batches): read it
        with ``execute``. Nothing is read before the answer is known to be the tuples."""
        return None

    def lineage(self, object_name: str) -> frozenset[str] | None:
        """The tables of its system the object reads (a view's, a table's own name),
        ``ANY_TABLE`` among them when the source cannot tell; ``None`` (the default)
        for a source whose objects read nothing of each other (files, endpoints): the
        catalog's name rules then stand alone (``adapters.sql_lineage``)."""
        return None

    def aggregate(self, plan: AggregatePlan) -> pa.Table:
        """Every group of an aggregate plan as one table (``adapters.aggregate``):
        SQL, file and HTTP adapters implement it; any other source refuses."""
        from catalog.errors import BadRequest

        raise BadRequest(f"a {self.kind} source cannot compute aggregates")

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
