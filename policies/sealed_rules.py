"""casbin's lines in ``casbin_rule``, sealed (``catalog.row_seals``).

``sqlalchemy_adapter`` writes and reads the table through a model class it is given;
ours has the ``seal`` column (migration 0017), seals every line it writes
(``before_insert`` / ``before_update``), and ``SealedAdapter.load_policy`` hands casbin
only lines whose seal verifies and that the trail does not say were removed since
(``catalog.row_bindings``). A role assignment an insider INSERTs (or edits: another
subject, another domain), or writes back after an admin took it away, is therefore no
assignment at all; each one met is logged once per process (the steward of the catalog
database has something to look at) and counted in ``SealedAdapter.ignored``.
"""

from __future__ import annotations

import logging
from typing import Any

from casbin import persist
from sqlalchemy import Connection, Integer, String, event
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy_adapter import Adapter

from catalog.row_bindings import checker, prefetch, rule_key
from catalog.row_seals import RULES, RowSeals, rule_values, seals_for

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class SealedRule(_Base):
    """One casbin line (``ptype`` and up to six values) and its seal."""

    __tablename__ = "casbin_rule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ptype: Mapped[str | None] = mapped_column(String(255))
    v0: Mapped[str | None] = mapped_column(String(255))
    v1: Mapped[str | None] = mapped_column(String(255))
    v2: Mapped[str | None] = mapped_column(String(255))
    v3: Mapped[str | None] = mapped_column(String(255))
    v4: Mapped[str | None] = mapped_column(String(255))
    v5: Mapped[str | None] = mapped_column(String(255))
    seal: Mapped[str | None] = mapped_column(String(64))

    def __str__(self) -> str:
        """casbin's text form of the line (``persist.load_policy_line`` parses it)."""
        values = [self.ptype, self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        return ", ".join(v for v in values if v is not None)


@event.listens_for(SealedRule, "before_insert")
@event.listens_for(SealedRule, "before_update")
def _seal_rule(_mapper: Any, connection: Connection, target: SealedRule) -> None:
    target.seal = seals_for(connection).seal(RULES, rule_values(target))


def rule_holds(seals: RowSeals, row: Any) -> bool:
    """Whether a ``casbin_rule`` row (any object with ``ptype``, ``v0``…``v5`` and
    ``seal``) was written by a gateway of this deployment."""
    return seals.holds(RULES, rule_values(row), row.seal)


class SealedAdapter(Adapter):  # type: ignore[misc]
    """``sqlalchemy_adapter.Adapter`` on ``SealedRule``; loads only sealed lines."""

    def __init__(self, engine: Any) -> None:
        super().__init__(engine, db_class=SealedRule, create_table=False)
        self.ignored = 0
        self._reported: set[tuple[Any, ...]] = set()

    def add_policies(self, sec: str, ptype: str, rules: Any) -> None:
        """All lines in one transaction (the adapter commits each on its own: the default
        policy's 123 lines were 123 commits at every new catalog's first start)."""
        with self._session_scope() as session:
            for rule in rules:
                self._save_policy_line(ptype, rule, session=session)

    def load_policy(self, model: Any) -> None:
        seals = seals_for(self._engine)
        current = checker(self._engine)  # the trail's newest word on each line
        ignored = 0
        loaded: set[str] = set()
        with self._session_scope() as session:
            lines = session.query(SealedRule).order_by(SealedRule.id).all()
            prefetch(self._engine, [rule_key(line) for line in lines])  # one trail read
            for line in lines:
                if rule_holds(seals, line) and current(rule_key(line), line.seal):
                    # once each: casbin assumes no two lines are equal, and removing one
                    # of two copies answers "not removed" without telling the database,
                    # so a copied line (its seal covers the values, not the id) made a
                    # role impossible to revoke (red team 14)
                    if str(line) not in loaded:
                        loaded.add(str(line))
                        persist.load_policy_line(str(line), model)
                    continue
                ignored += 1
                key = (*rule_values(line), line.seal)
                if key not in self._reported and len(self._reported) < 10_000:
                    self._reported.add(key)
                    log.warning("casbin_rule_unsealed_ignored id=%s ptype=%s", line.id,
                                line.ptype)  # fmt: skip
        self.ignored = ignored
