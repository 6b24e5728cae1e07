"""What a model needs from the catalog and from policy, checked without reading a row.

Used when a model is stored (for its author) and when a run is asked for (for the
runner), so a refusal is a clear 4xx at once instead of a failed job later:

- every entry exists and is published (404), none is frozen by an officer (423);
- the caller's role may query each entry's department (403);
- policy, asked exactly as the broker will ask it for that side (the same decision
  input, ``preview.preview_input``), allows the side and does not deny any field it
  reads (403, naming the field);
- every field a condition or a source filter reads is released *in clear*: a
  condition compares values, and a masked value (a year for a date, a token for an
  amount) would silently compare something else (403).

This is a preview, not the enforcement: each side of the run is still prepared by the
broker itself — its own decision, masks, row filter and durable ``query.started`` —
immediately before anything is read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from audit.sink import AuditSink
from catalog.entry_seals import require_entry_sealed
from catalog.errors import DatasetFrozen, Forbidden, NotFound
from catalog.models import Dataset, DatasetStatus, Source
from catalog.source_seals import loaded_source_holds, refuse_unsealed
from gateway.core.services import Services
from gateway.enforcement.comparison.spec import (
    CompiledModel,
    CompiledSide,
    ModelSpec,
    compile_model,
)
from gateway.enforcement.grants import granted_fields_anywhere, granted_fields_both_ways
from gateway.enforcement.query.authorize import action, method, refusal
from gateway.enforcement.query.generation import catalog_generation
from gateway.enforcement.query.preview import preview_input
from gateway.enforcement.query.schemas import QueryBody
from gateway.enforcement.sources.lineage_now import (
    asking_sources,
    freeze_near,
    frozen_now,
    reads_of_source,
)
from gateway.enforcement.sources.objects import (
    FrozenObject,
    SourceView,
    frozen_holding,
    frozen_objects,
)
from policies.decision import Decision, UserContext

PREVIEW_CASE = "model-check"


def entries(session: Session, ids: Iterable[str]) -> dict[str, Dataset]:
    """The published entries named (404 for any other: unknown and draft look alike)."""
    wanted = list(dict.fromkeys(ids))
    rows = session.scalars(select(Dataset).where(Dataset.id.in_(wanted))).all()
    found = {d.id: d for d in rows if d.status == DatasetStatus.PUBLISHED}
    for dataset_id in wanted:
        if dataset_id not in found:
            raise NotFound(f"no dataset {dataset_id!r}")
    return found


def compile_against_catalog(
    session: Session, spec: ModelSpec, *, model_id: str, version: int
) -> tuple[CompiledModel, dict[str, Dataset]]:
    """The model compiled against its entries' fields as they are now."""
    found = entries(session, spec.entries)
    return compile_against(spec, found, model_id=model_id, version=version), found


def compile_against(
    spec: ModelSpec, found: Mapping[str, Dataset], *, model_id: str, version: int
) -> CompiledModel:
    """The model compiled against the fields of ``found`` (its entries, however found)."""
    fields = {d.id: {f.name: f.type for f in d.fields} for d in found.values()}
    return compile_model(spec, model_id=model_id, version=version, fields=fields)


def _require_source_sealed(session: Session, dataset: Dataset, generation: int) -> None:
    """``SourceUnsealed`` for a side whose source was re-pointed or replayed behind the
    gateway (the broker refuses its read too; here the request is refused before it is
    queued); the trail read once per ``generation``."""
    source = session.get(Source, dataset.source_id)
    if source is None or not loaded_source_holds(source, refresh=True, token=generation):
        seal = None if source is None else source.seal
        raise refuse_unsealed(dataset.source_id, seal, entry=dataset.id)


def check_access(
    *, services: Services, session: Session, user: UserContext, model: CompiledModel,
    datasets: dict[str, Dataset], purpose: str | None, case_ref: str | None,
    charges_rows: bool = True,
) -> dict[str, Decision]:  # fmt: skip
    """Refuse (423, 403) what the broker would refuse for ``user`` on any side
    (``charges_rows=False``: a stored hit list read again, the quota no condition);
    each side's decision, by alias."""
    decisions: dict[str, Decision] = {}
    generation = catalog_generation(session.connection())
    refuse_frozen_objects(
        session, [datasets[side.dataset] for side in model.sides], services=services
    )
    for side in model.sides:
        dataset = datasets[side.dataset]
        # before its freeze, which a replay may lift; the trail read once per generation
        require_entry_sealed(session.connection(), dataset, token=generation)
        _require_source_sealed(session, dataset, generation)
        if dataset.frozen_at is not None:
            raise DatasetFrozen(f"dataset {dataset.id!r} is frozen by a security officer")
        services.authorizer.check(subject=user.subject, domain=dataset.department,
                                  action="dataset:query")  # fmt: skip
        decision = _decision(services, session, user, side, dataset, purpose, case_ref,
                             charges_rows)  # fmt: skip
        _check_fields(side, decision)
        decisions[side.alias] = decision
    granted, surely = granted_on_sides(session.connection(), user.subject, model, datasets,
                                       services.audit)  # fmt: skip
    check_keys_alike(((j.left, j.left_key, j.right, j.right_key) for j in model.joins),
                     decisions, granted, surely)  # fmt: skip
    return decisions


def granted_on_sides(
    conn: Connection, subject: str, model: CompiledModel, datasets: Mapping[str, Dataset],
    trail: AuditSink | None = None,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:  # fmt: skip
    """By side alias, each field some grant of ``subject``'s may release on that side's
    entry, in any case, and those it surely releases (``check_keys_alike``'s
    ``granted`` and ``surely``)."""
    entries = {side.alias: datasets[side.dataset].id for side in model.sides}
    return keys_granted_by_alias(conn, subject, entries, trail)


def granted_by_alias(
    conn: Connection, subject: str, entries: Mapping[str, str], trail: AuditSink | None = None
) -> dict[str, dict[str, str]]:
    """By alias, the fields some grant of ``subject``'s releases (or released) on the
    alias's entry (``entries``: alias to entry id), under any case; with ``trail``, also
    those its approvals name whatever became of the grant's row (``grants_on_trail``)."""
    by_entry = granted_fields_anywhere(conn=conn, subject=subject, dataset_ids=entries.values(),
                                       trail=trail)  # fmt: skip
    return {alias: by_entry[entry] for alias, entry in entries.items()}


def keys_granted_by_alias(
    conn: Connection, subject: str, entries: Mapping[str, str], trail: AuditSink | None = None
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """``granted_by_alias``, and what the subject surely holds of it (``surely``:
    an entry that no longer verifies counts for itself only), the grants read once."""
    maybe, surely = granted_fields_both_ways(conn=conn, subject=subject,
                                             dataset_ids=entries.values(), trail=trail)  # fmt: skip
    return ({alias: maybe[entry] for alias, entry in entries.items()},
            {alias: surely[entry] for alias, entry in entries.items()})  # fmt: skip


REDACTED = ("mask", "redact")


def check_keys_alike(
    joins: Iterable[tuple[str, str, str, str]], decisions: Mapping[str, Decision],
    granted: Mapping[str, Mapping[str, str]], surely: Mapping[str, Mapping[str, str]],
) -> None:  # fmt: skip
    """Refuse (403) a join whose two keys policy releases differently to the caller: a
    key masked on one side matched with one in clear on the other (or masked another
    way) hands over, with each match, the value the mask hides — the clear side's row
    spells it (red team 36: a disbursement's ``date_shift``-ed date matched with the
    public dates of audit findings gave each true date away). Keys are compared as
    hash tokens, so that keys masked alike (ID numbers in two departments) still join;
    a redacted key never does (the pairs would show which rows share a value).
    A key some grant of the caller's releases in clear, in any case (``granted``: by
    alias, each field a grant releases and the grant's case), counts as clear here too:
    what they read under that case they know under this one (red team 38: a roll's start
    date granted in one case, matched in another with disbursements' shifted payment
    dates, gave those dates away). ``joins``: (left alias, left key, right alias, right
    key); ``decisions`` by alias. ``surely``: the part of ``granted`` the caller surely
    holds: a grant of an entry whose catalog row no longer
    verifies counts for every same-named field of its department in ``granted``, not in
    ``surely`` (and a grant of a field the entry no longer has counts for each of its
    fields: a rename), and a key clear by such a grant alone is neither clear nor masked to
    this rule: matched with a key held in clear, it was a masked key's values spelt out
    (red team 42); so both must be told alike, or the join is refused."""
    for left, left_key, right, right_key in joins:
        ends = ((left, left_key), (right, right_key))
        ways = [(action(decisions[alias], key), method(decisions[alias], key))
                for alias, key in ends]  # fmt: skip
        if REDACTED in ways:  # shows nothing of its values, not even which rows share one
            raise Forbidden(
                f"{left}.{left_key} or {right}.{right_key} is redacted for you: a redacted "
                "field is no key (ask for it, or match on another)"
            )
        if ways[0] != ways[1]:
            shown = ", ".join(f"{alias}.{key} {_released(way)}"
                              for (alias, key), way in zip(ends, ways, strict=True))  # fmt: skip
            raise Forbidden(
                f"the keys are released differently to you ({shown}): matching them would "
                "show the masked one's values; match keys masked alike or in clear on both"
            )
        _check_granted_alike(ends, ways, granted, surely)


def _check_granted_alike(
    ends: tuple[tuple[str, str], tuple[str, str]], ways: list[tuple[str, str | None]],
    granted: Mapping[str, Mapping[str, str]], surely: Mapping[str, Mapping[str, str]],
) -> None:  # fmt: skip
    cases = [granted.get(alias, {}).get(key) for alias, key in ends]
    clear = [way[0] == "allow" or case is not None for way, case in zip(ways, cases, strict=True)]
    sure = [way[0] == "allow" or surely.get(alias, {}).get(key) is not None
            for way, (alias, key) in zip(ways, ends, strict=True)]  # fmt: skip
    if clear[0] == clear[1] and (sure == clear or all(sure)):
        return
    if clear[0] == clear[1]:  # both may be clear, one not surely: an unverified entry's grant
        (alias, key) = ends[0 if not sure[0] else 1]
        raise Forbidden(
            f"{alias}.{key} may be released to you in clear by a grant (of an entry whose "
            "catalog record no longer verifies, of a field since renamed at the source, or "
            "of another entry that may read the same table): match on another key"
        )
    lifted = 0 if cases[0] is not None and ways[0][0] != "allow" else 1
    (alias, key), (other, other_key) = ends[lifted], ends[1 - lifted]
    raise Forbidden(
        f"{alias}.{key} is released to you in clear by your grant for case "
        f"{cases[lifted]!r} and {other}.{other_key} is masked to you: matched in any case, "
        f"the matches would show {other}.{other_key}'s values; match it with a key you "
        "hold in clear too, or on another key"
    )


def _released(way: tuple[str, str | None]) -> str:
    """How a key is released, in words: ``in clear``, ``masked (hash)``, ``withheld``."""
    if way[0] == "allow":
        return "in clear"
    return f"masked ({way[1]})" if way[0] == "mask" else "withheld"


def check_as_stored(
    columns: Iterable[Mapping[str, object]], decisions: Mapping[str, Decision]
) -> None:
    """Refuse (403) a stored hit list holding a column clearer than policy releases it
    now (red team 6): each column is kept as it was released when the run read it
    (``ModelRun.output_columns``: action and mask), so a grant revoked or expired since,
    or a field now masked otherwise, would otherwise still be served in clear. Stored
    values cannot be masked again (a hash token needs the raw value): run the model
    again."""
    for column in columns:
        alias, dot, name = str(column.get("name", "")).partition(".")
        decision = decisions.get(alias)
        if not dot or decision is None:
            continue  # the hit id and the key token: the gateway's own
        now = action(decision, name)
        if now == "allow" or (column.get("action") == now == "mask"
                              and column.get("method") == method(decision, name)):  # fmt: skip
            continue
        raise Forbidden(
            f"column {alias}.{name} of this hit list was released {column.get('action')!r} "
            f"when the run read it and is {now!r} for you now (a grant revoked or expired, "
            "a mask changed): run the model again",
            field=f"{alias}.{name}",
        )


def _decision(
    services: Services, session: Session, user: UserContext, side: CompiledSide,
    dataset: Dataset, purpose: str | None, case_ref: str | None, charges_rows: bool,
) -> Decision:  # fmt: skip
    body = QueryBody(
        fields=list(side.reads), where=list(side.where),
        purpose=purpose if purpose is not None else next(iter(dataset.allowed_purposes or []), ""),
        case_ref=case_ref or PREVIEW_CASE,
    )  # fmt: skip
    asked = preview_input(limiter=services.limiter,
                          max_rows_by_level=services.settings.max_rows_by_level or {},
                          session=session, user=user, dataset=dataset, body=body,
                          charges_rows=charges_rows)  # fmt: skip
    decision = services.pdp.decide(asked)
    if not decision.allow:
        raise refusal(decision)
    return decision


def _check_fields(side: CompiledSide, decision: Decision) -> None:
    for name in side.reads:
        if action(decision, name) == "deny":
            raise Forbidden(f"field {side.alias}.{name} ({side.dataset}) is not released to you",
                            field=f"{side.alias}.{name}")  # fmt: skip
    for name in [*side.condition_fields, *(w.field for w in side.where)]:
        if action(decision, name) != "allow":
            raise Forbidden(
                f"field {side.alias}.{name} ({side.dataset}) is masked for you: a condition or "
                "filter compares values in clear",
                field=f"{side.alias}.{name}",
            )


def refuse_frozen_objects(
    session: Session, datasets: Iterable[Dataset], *, services: Services
) -> None:
    """An entry whose object another, frozen entry reads (a copy published before the
    freeze) is refused as the broker refuses its queries (423): a model stored or run
    over it, and a run's stored hits, which are its data too (red team 13). While an
    entry of its system is frozen, by what its object reads as the source tells it now,
    as the broker compares it (``lineage_now``, stop 38)."""
    frozen = frozen_objects(session, services.audit)
    for dataset in datasets if frozen else ():
        source = session.get(Source, dataset.source_id)
        if source is None:
            continue
        view = SourceView(source.id, source.kind, dict(source.settings or {}),
                          source.server_identity, source.department)  # fmt: skip
        reads: Collection[str] | None = dataset.reads
        now: Sequence[FrozenObject] = frozen
        if freeze_near(frozen, view):  # both sides as they are now
            now = frozen_now(frozen, view, asking_sources(session, services))
            reads = reads_of_source(services, source, dataset.object_name)
        held = frozen_holding(now, view, dataset.id, dataset.object_name,
                              [f.name for f in dataset.fields], reads)  # fmt: skip
        if held is not None:
            raise DatasetFrozen(f"dataset {dataset.id!r} reads the same data as {held!r}, "
                                "which a security officer froze")  # fmt: skip
