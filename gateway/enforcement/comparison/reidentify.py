"""Releasing the real identities behind approved hits of a run (issue 15).

Why re-read instead of keeping or decrypting: a stored hit list holds HMAC tokens
under the case key, which cannot be reversed, and no raw or FF3-encrypted ID number is
kept at rest (a stolen hit list, or an insider with the mask secret, learns nothing from
it). So each release reads every side of the run's model version again through the
broker, as the run did — casbin, one Rego decision, the runner's jurisdiction as row
filter, its own durable ``query.started`` and its end, ``delivered: false`` — but with
the key read in clear (``SideOverrides.reveal_key``). The gateway computes each row's
token under the run's case key exactly as the run did, keeps the rows whose tokens are
those of the approved hits, and hands out only those hits with each side's key in
clear. Everything else read stays in the gateway's memory for that request.

What is approved is read from the catalog at every release: requests of this analyst,
on this run, with the status ``approved`` and approved less than the release's lifetime
ago (``reidentification.release_ttl``: a revocation or the expiry stops the next
release); the hits released are the union of those requests' hit ids and nothing else.
``expired_only`` tells a caller refusing a release that it refuses because the
approvals it had are over (ask again), not because there never were any.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pac
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.comparison_models import ComparisonModelVersion, ComparisonRun
from catalog.errors import Forbidden, NotFound
from catalog.grant_seals import REIDENTIFICATIONS, sealed_only
from catalog.models import Dataset
from catalog.reidentifications import ReidentificationRequest, expired, release_ttl
from gateway.enforcement.comparison.access import compile_against_catalog, granted_by_alias
from gateway.enforcement.comparison.model_run import HIT_ID
from gateway.enforcement.comparison.spec import KEY_COLUMN, CompiledModel, ModelSpec
from gateway.enforcement.masking.apply import mask_array
from gateway.enforcement.masking.id_spelling import canonical_id_number
from gateway.enforcement.query.authorize import action
from gateway.enforcement.query.broker import Broker
from gateway.enforcement.query.context import Origin, QueryRequest
from gateway.enforcement.query.plan import SideOverrides, clear_key_tokens
from gateway.enforcement.query.schemas import QueryBody
from policies.decision import UserContext

RELEASED = "reidentified"  # a released key's column: ``<side>.<key>.reidentified``


def _approvals(session: Session, run: ComparisonRun,
               user: UserContext) -> list[ReidentificationRequest]:  # fmt: skip
    """Approved requests whose seal verifies (``catalog.grant_seals``): one written or
    edited behind the gateway releases nothing, and is logged."""
    found = session.scalars(
        select(ReidentificationRequest).where(
            ReidentificationRequest.run_id == run.id,
            ReidentificationRequest.requester == user.subject,
            ReidentificationRequest.status == "approved",
        )
    )  # fmt: skip
    return sealed_only(session.connection(), REIDENTIFICATIONS, found)


def approved(
    session: Session, run: ComparisonRun, user: UserContext, *,
    now: datetime | None = None, ttl: timedelta | None = None,
) -> tuple[list[int], list[str]]:  # fmt: skip
    """The hit ids released to ``user`` on ``run`` now, and the requests that did it:
    approved ones whose release has not expired."""
    now, ttl = now or datetime.now(UTC), ttl or release_ttl()
    found = [r for r in _approvals(session, run, user) if not expired(r, now, ttl)]
    hits = sorted({int(h) for r in found for h in r.hit_ids})
    return hits, sorted(r.id for r in found)


def approved_by_case(
    session: Session, run: ComparisonRun, user: UserContext, *,
    now: datetime | None = None, ttl: timedelta | None = None,
) -> dict[tuple[str, str], tuple[list[int], list[str]]]:  # fmt: skip
    """``approved``'s hits and requests by the purpose and case they were asked and
    approved under: a screening run may open a case per person, and each release is
    on record under the case its stewards approved, not the run's (red team 45)."""
    now, ttl = now or datetime.now(UTC), ttl or release_ttl()
    found = [r for r in _approvals(session, run, user) if not expired(r, now, ttl)]
    cases: dict[tuple[str, str], tuple[list[int], list[str]]] = {}
    for case in sorted({(r.purpose, r.case_ref) for r in found}):
        mine = [r for r in found if (r.purpose, r.case_ref) == case]
        cases[case] = (sorted({int(h) for r in mine for h in r.hit_ids}),
                       sorted(r.id for r in mine))  # fmt: skip
    return cases


def expired_only(
    session: Session,
    run: ComparisonRun,
    user: UserContext,
    *,
    now: datetime | None = None,
    ttl: timedelta | None = None,
) -> list[str]:
    """The ids of ``user``'s approved requests on ``run`` whose release is over, when
    none is current (empty otherwise): the reason a release is refused."""
    now, ttl = now or datetime.now(UTC), ttl or release_ttl()
    found = _approvals(session, run, user)
    if any(not expired(r, now, ttl) for r in found):
        return []
    return sorted(r.id for r in found if expired(r, now, ttl))


def refuse_if_expired(session: Session, run: ComparisonRun, user: UserContext, *,
                      ttl: timedelta | None = None) -> None:  # fmt: skip
    """A 403 that says the approvals are over (ask again), when that is why nothing is
    released; recorded as every refusal is (``request.refused``)."""
    over = expired_only(session, run, user, ttl=ttl)
    if over:
        days = (ttl or release_ttl()).days
        raise Forbidden(
            f"the re-identification of hits of run {run.id} has expired ({days} days after "
            "its approval): ask again", reason="reidentification_expired", requests=over,
        )  # fmt: skip


def _model(session: Session, run: ComparisonRun) -> CompiledModel:
    version = session.get(ComparisonModelVersion, (run.model_id, run.model_version))
    if version is None:  # never: versions are kept
        raise NotFound(f"run {run.id}'s model version is gone")
    spec = ModelSpec.model_validate(version.spec)
    model, _ = compile_against_catalog(
        session, spec, model_id=run.model_id, version=run.model_version
    )
    return model


def _side_keys(
    broker: Broker, run: ComparisonRun, user: UserContext, model: CompiledModel,
    tokens: set[str], *, granted: dict[str, dict[str, str]], release_id: str,
    requests: list[str], max_rows: int,
) -> dict[str, dict[str, str]]:  # fmt: skip
    """Per side alias: token → the key in clear, for the wanted tokens only
    (``granted``: by alias, the fields some grant of the caller's releases, whose keys
    a run hashes as clear ones: ``plan._side_key``)."""
    case_key = broker.subjects.case_key(run.case_ref)
    wanted = pa.array(sorted(tokens), pa.string())
    keys: dict[str, dict[str, str]] = {}
    for side in model.sides:
        body = QueryBody(fields=[side.key], where=list(side.where), purpose=run.purpose,
                         case_ref=run.case_ref)  # fmt: skip
        q = broker.prepare(
            QueryRequest(user=user, dataset_id=side.dataset, body=body,
                         origin=Origin(request_id=f"{release_id}.{side.alias}")),
            side=SideOverrides(label=side.alias, key=side.key, max_rows=max_rows,
                               reveal_key=True),
        )  # fmt: skip
        table, cut = q.collect({"comparison_id": run.id, "side": side.alias,
                                "reidentification": requests, "delivered": False})  # fmt: skip
        if cut:
            raise Forbidden(f"side {side.alias!r} has more rows than the comparison reads; "
                            "the identities cannot be matched to the hits")  # fmt: skip
        raw = table.column(side.key).combine_chunks().cast(pa.string())
        # as the run hashed it: a key released in clear under a key of its own
        clear = action(q.decision, side.key) == "allow" or side.key in granted[side.alias]
        token = mask_array(raw, "hash", hash_key=clear_key_tokens(case_key) if clear else case_key,
                           id_number=side.key in q.plan.id_numbers)  # fmt: skip
        keep = pac.is_in(token, value_set=wanted)
        keys[side.alias] = dict(zip(pac.filter(token, keep).to_pylist(),
                                    pac.filter(raw, keep).to_pylist(), strict=True))  # fmt: skip
    return keys


def release(
    *, broker: Broker, session: Session, run: ComparisonRun, user: UserContext,
    hits: pa.Table, hit_ids: Iterable[int], release_id: str, requests: list[str],
    max_rows: int,
) -> pa.Table:  # fmt: skip
    """The approved hits only, each side's key in clear beside them (null where a side
    has no row for the hit: an anti-joined side)."""
    ids = pa.array(sorted(set(hit_ids)), pa.int64())
    chosen = hits.filter(pac.is_in(hits.column(HIT_ID), value_set=ids))
    tokens = {t for t in chosen.column(KEY_COLUMN).to_pylist() if t is not None}
    model = _model(session, run)
    granted = granted_by_alias(session.connection(), user.subject,
                               {side.alias: side.dataset for side in model.sides})  # fmt: skip
    keys = _side_keys(broker, run, user, model, tokens, granted=granted, release_id=release_id,
                      requests=requests, max_rows=max_rows)  # fmt: skip
    row_tokens = chosen.column(KEY_COLUMN).to_pylist()
    for side in model.sides:
        found = keys[side.alias]
        chosen = chosen.append_column(
            f"{side.alias}.{side.key}.{RELEASED}",
            pa.array([found.get(t) if t is not None else None for t in row_tokens], pa.string()),
        )
    return chosen


def released_subjects(
    broker: Broker, session: Session, run: ComparisonRun, table: pa.Table
) -> list[str]:
    """The subject tokens of the people a release names by an ID number in clear (a side
    whose key is an ID-number field): the release is the most intrusive lookup of them,
    and "who looked up whom" must find it by their token (red team 20: it named only the
    run and hit ids, and an officer's lookup of a released person never met it)."""
    tokens: list[str] = []
    for side in _model(session, run).sides:
        dataset = session.get(Dataset, side.dataset)
        kinds = {f.name: f.pi_category for f in dataset.fields} if dataset is not None else {}
        column = f"{side.alias}.{side.key}.{RELEASED}"
        if kinds.get(side.key) != "id_number" or column not in table.column_names:
            continue
        for value in table.column(column).to_pylist():
            if isinstance(value, str) and value:
                tokens.append(broker.subjects.token(canonical_id_number(value)))
    return list(dict.fromkeys(tokens))
