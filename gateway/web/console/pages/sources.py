"""Sources (stewards): register a source with a form per kind, test its connection,
introspect it, draft an entry from one object, accept or correct the suggested
classification field by field (with the classifier's evidence), publish, refresh and
review the drift.

No second code path: every step is the function ``gateway.web.routes.sources`` calls
(``gateway.stewardship.registration``), which checks casbin and the department rule,
validates the settings, tests the connection pinned to the checked address and appends
the audit event; the page then commits as the route does. "Test the connection" runs
the registration's own check-and-test step (permission, secret and target checks, live
connection) without saving or recording anything, as nothing changes. A secret is
posted once and never shown again: pages show a source's ``redacted`` form only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from adapters.base import SourceConfig
from catalog import service as catalog
from catalog.errors import BadRequest, Forbidden, SluiceError
from catalog.models import Dataset
from catalog.schemas import DatasetPatch, StewardDatasetOut
from catalog.source_seals import loaded_source_holds
from catalog.vocabulary import Level, PICategory
from gateway.stewardship import registration
from gateway.stewardship.registration.access import require_steward
from gateway.stewardship.registration.schemas import ObjectProposal, SourceOut, require_id
from gateway.stewardship.registration.tested import tested_connection
from gateway.web.console.caller import Caller, may
from gateway.web.console.forms import Form
from gateway.web.console.guard import ConsoleRoute, console_caller, csrf_form
from gateway.web.console.rendering import as_held, input_key, left_as_shown, render, shown
from gateway.web.console.runtime import get_console

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def may_register(request: Request, caller: Caller = Depends(console_caller)) -> Caller:
    """Stewards (in any department: the service checks the source's own)."""
    if not may(request, caller, "source:register"):
        raise Forbidden("sources are for data stewards")
    return caller


T = TypeVar("T")
KINDS = ("sqlite", "postgresql", "mysql", "csv", "parquet", "http")
LEVELS = [level.value for level in Level]
PI_CATEGORIES = [c.value for c in PICategory]


def _in_session(request: Request, work: Callable[[Session], T], *, commit: bool = False) -> T:
    """One unit of work, committed only after the service succeeded (as the routes do)."""
    with get_console(request).services.sessions() as session:
        result = work(session)
        if commit:
            session.commit()
        return result


def _sql_url(kind: str, form: Form) -> str:
    host, database = form.get("host").strip(), form.get("database").strip()
    user, port = form.get("user").strip(), form.get("port").strip()
    if not host or not database:
        raise BadRequest("the host and the database are required")
    if port and not port.isdigit():
        raise BadRequest("the port is a number")
    who = f"{quote(user, safe='')}@" if user else ""
    return f"{kind}://{who}{host}{':' + port if port else ''}/{quote(database, safe='')}"


def _http_settings(form: Form) -> dict[str, Any]:
    settings: dict[str, Any] = {"base_url": form.get("base_url").strip()}
    if form.get("auth"):
        settings["auth"] = form.get("auth")
    if form.get("auth_param").strip():
        settings["auth_param"] = form.get("auth_param").strip()
    raw = form.get("objects").strip()
    if raw:
        try:
            settings["objects"] = json.loads(raw)
        except ValueError:
            raise BadRequest("the endpoints are a JSON list") from None
    return settings


def _column_types(raw: str) -> dict[str, str]:
    """``region_code: string, sfzh: string`` as the API's ``settings.column_types`` (a
    CSV has no types: Arrow would read region codes as numbers and lose the row
    filter's prefixes); the adapter checks the names and types when it connects."""
    types: dict[str, str] = {}
    for part in raw.replace("，", ",").replace("：", ":").split(","):
        name, colon, kind = part.partition(":")
        if not part.strip():
            continue
        if not colon or not name.strip() or not kind.strip():
            raise BadRequest("column types: 'column: type' pairs separated by commas")
        types[name.strip()] = kind.strip()
    return types


def settings_of(kind: str, form: Form) -> dict[str, Any]:
    """The kind-specific form as the API's ``settings`` (the secret stays apart)."""
    if kind == "sqlite":
        path = form.get("path").strip()
        if not path.startswith("/"):
            raise BadRequest("the SQLite path is absolute, under an allowed file root")
        return {"url": f"sqlite:///{path}"}
    if kind in ("postgresql", "mysql"):
        settings: dict[str, Any] = {"url": _sql_url(kind, form)}
        if form.get("schema").strip():
            settings["schema"] = form.get("schema").strip()
        return settings
    if kind in ("csv", "parquet"):
        path, root = form.get("path").strip(), form.get("root").strip()
        if bool(path) == bool(root):
            raise BadRequest("give either a file path or a directory (root), not both")
        files: dict[str, Any] = {"path": path} if path else {"root": root}
        if kind == "csv" and form.get("column_types").strip():
            files["column_types"] = _column_types(form.get("column_types"))
        return files
    if kind == "http":
        return _http_settings(form)
    raise BadRequest(f"unknown source kind {kind!r}; known kinds: {', '.join(KINDS)}")


def _source_form(form: Form) -> dict[str, Any]:
    kind = form.get("kind")
    source_id = form.get("id").strip()
    require_id(source_id, "source")  # before the settings are read (the service checks too)
    return {"source_id": source_id, "kind": kind, "settings": settings_of(kind, form),
            "display_name": form.get("display_name").strip() or source_id,
            "secret": form.get("secret") or None}  # fmt: skip


@router.get("/console/sources")
async def sources_page(request: Request, caller: Caller = Depends(may_register)) -> Response:
    def load(session: Session) -> dict[str, Any]:
        sources = registration.list_sources(
            session=session, authorizer=get_console(request).services.authorizer,
            user=caller.user)  # fmt: skip
        ids = [s.id for s in sources]
        entries = list(session.scalars(select(Dataset).where(Dataset.source_id.in_(ids))
                                       .order_by(Dataset.id))) if ids else []  # fmt: skip
        return {"sources": [SourceOut.of(s) for s in sources],
                "entries": [StewardDatasetOut.of(d) for d in entries]}  # fmt: skip

    data = await run_in_threadpool(_in_session, request, load)
    return render(request, "sources.html", kinds=KINDS, **data)


@router.get("/console/sources/new")
async def new_source(request: Request, kind: str = Query("sqlite", max_length=16),
                     caller: Caller = Depends(may_register)) -> Response:  # fmt: skip
    if kind not in KINDS:
        raise BadRequest(f"unknown source kind {kind!r}; known kinds: {', '.join(KINDS)}")
    roots = get_console(request).services.settings.effective_file_roots
    return render(request, "source_new.html", kind=kind, kinds=KINDS,
                  roots=[str(r) for r in roots], tested=None, values={})  # fmt: skip


@router.post("/console/sources/test")
async def test_source(request: Request, caller: Caller = Depends(may_register),
                      form: Form = Depends(csrf_form)) -> Response:  # fmt: skip
    asked = _source_form(form)
    services = get_console(request).services
    department = caller.user.department or ""

    await run_in_threadpool(
        lambda: require_steward(
            services=services, user=caller.user, department=department, action="source:register"
        )
    )

    def check(session: Session) -> str:
        # a taken id first, as a registration does: the ownership check leaves the
        # source of that id out, so another department's id let its system be reached
        # (red team 10)
        catalog.require_new_source(session=session, source_id=asked["source_id"],
                                   department=department)  # fmt: skip
        registration.refuse_secrets_in_settings(asked["settings"])
        config = SourceConfig(kind=asked["kind"], settings=dict(asked["settings"]),
                              secret=asked["secret"])  # fmt: skip
        try:  # on record whatever it finds (red team 29: a password oracle off the trail)
            return tested_connection(session=session, services=services, user=caller.user,
                                     department=department, source_id=asked["source_id"],
                                     config=config)  # fmt: skip
        finally:
            session.rollback()

    try:
        tested = {"ok": True, "text": await run_in_threadpool(_in_session, request, check)}
    except SluiceError as exc:  # a refused or failed test is the answer, shown on the form
        tested = {"ok": False, "text": exc.message}
    values = {k: v for k, v in ((k, form.get(k)) for k in
              ("id", "display_name", "path", "root", "host", "port", "database", "user", "schema",
               "base_url", "auth", "auth_param", "objects", "column_types")) if v}  # fmt: skip
    roots = [str(r) for r in services.settings.effective_file_roots]
    return render(request, "source_new.html", kind=asked["kind"], kinds=KINDS, roots=roots,
                  tested=tested, values=values)  # fmt: skip


@router.post("/console/sources")
async def register(request: Request, caller: Caller = Depends(may_register),
                   form: Form = Depends(csrf_form)) -> Response:  # fmt: skip
    asked = _source_form(form)
    services = get_console(request).services

    def work(session: Session) -> str:
        source = registration.register_source(session=session, services=services,
                                              user=caller.user,
                                              department=caller.user.department or "",
                                              **asked)  # fmt: skip
        return source.id

    source_id = await run_in_threadpool(lambda: _in_session(request, work, commit=True))
    return RedirectResponse(f"/console/sources/{source_id}", status_code=303)


@router.get("/console/sources/{source_id}")
async def source_page(request: Request, source_id: str, introspect: bool = False,
                      caller: Caller = Depends(may_register)) -> Response:  # fmt: skip
    """The source, and with ``?introspect=1`` its objects, columns and suggestions."""
    services = get_console(request).services

    def load(session: Session) -> dict[str, Any]:
        source = registration.get_source(session=session, authorizer=services.authorizer,
                                         user=caller.user, source_id=source_id)  # fmt: skip
        objects: list[ObjectProposal] = []
        if introspect:
            objects = registration.introspect(session=session, services=services,
                                              user=caller.user, source_id=source_id)  # fmt: skip
        return {"source": SourceOut.of(source), "objects": objects}

    data = await run_in_threadpool(_in_session, request, load)
    return render(request, "source.html", introspected=introspect, **data)


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("，", ",").split(",") if w.strip()]


@router.post("/console/sources/{source_id}/draft")
async def draft(request: Request, source_id: str, caller: Caller = Depends(may_register),
                form: Form = Depends(csrf_form)) -> Response:  # fmt: skip
    services = get_console(request).services
    dataset_id = form.get("dataset_id").strip() or None

    def work(session: Session) -> str:
        dataset = registration.create_draft(
            session=session, services=services, user=caller.user, source_id=source_id,
            object_name=form.get("object_name"), dataset_id=dataset_id,
            title_zh=form.get("title_zh").strip(), title_en=form.get("title_en").strip(),
            allowed_purposes=_words(form.get("allowed_purposes")),
            tags=_words(form.get("tags")),
        )  # fmt: skip
        return dataset.id

    new_id = await run_in_threadpool(lambda: _in_session(request, work, commit=True))
    return RedirectResponse(f"/console/sources/entries/{new_id}", status_code=303)


def _entry_view(request: Request, caller: Caller, dataset_id: str) -> dict[str, Any]:
    """The entry as its stewards see it, with the classifier's evidence per field
    (a fresh, bounded introspection of the entry's object)."""
    services = get_console(request).services
    with services.sessions() as session:
        dataset = catalog.get_dataset(session=session, dataset_id=dataset_id,
                                      include_drafts=True)  # fmt: skip
        require_steward(services=services, user=caller.user, department=dataset.department,
                        action="dataset:edit")  # fmt: skip
        entry = StewardDatasetOut.of(dataset)
        # what SourceOut says as ``sealed``: a changed source serves none of its entries
        source = catalog.get_source(session=session, source_id=entry.source_id)
        source_sealed = loaded_source_holds(source)
        try:
            found = registration.introspect(session=session, services=services, user=caller.user,
                                            source_id=entry.source_id,
                                            objects=[entry.object_name])  # fmt: skip
            evidence = {c.name: c.suggestion for o in found for c in o.columns}
        except SluiceError:  # the source is down or lost the object: no evidence to show
            evidence = {}
    return {"entry": entry, "evidence": evidence, "source_sealed": source_sealed}


@router.get("/console/sources/entries/{dataset_id}")
async def entry_page(request: Request, dataset_id: str,
                     caller: Caller = Depends(may_register)) -> Response:  # fmt: skip
    data = await run_in_threadpool(_entry_view, request, caller, dataset_id)
    return render(request, "source_entry.html", levels=LEVELS, pi_categories=PI_CATEGORIES,
                  drift=None, **data)  # fmt: skip


def _sent(form: Form, keyed: str, named: str) -> str:
    """An input the page names by a field's ``input_key`` (``keyed``); a form that is
    not the page's (a script) may name it by the field itself (``named``)."""
    return form.get(keyed) if form.getlist(keyed) else form.get(named)


def _field_changes(form: Form, entry: StewardDatasetOut) -> dict[str, dict[str, str]]:
    """Each field's level and category where the form differs from the entry; the page
    keys each field's inputs by ``input_key`` (its display is no key: red team 64)."""
    fields: dict[str, dict[str, str]] = {}
    for f in entry.fields:
        change = {}
        for attr in ("level", "pi_category"):
            value = _sent(form, f"{attr}.{input_key(f.name)}", f"{attr}__{f.name}")
            if value and value != getattr(f, attr):
                change[attr] = value
        if change:
            fields[f.name] = change
    return fields


def _entry_changes(form: Form, entry: StewardDatasetOut) -> dict[str, Any]:
    """The entry's own attributes the form sent and changed (an absent input is no
    change: a page without the input must not clear the value)."""
    sent = {name for name in ("title_zh", "title_en", "level", "allowed_purposes", "tags",
                              "region_field") if form.getlist(name)}  # fmt: skip
    raw: dict[str, Any] = {}
    for name in ("title_zh", "title_en", "level"):
        held = getattr(entry, name)
        value = left_as_shown(form.get(name), held)
        if name in sent and value and value != held:
            raw[name] = value
    for name in ("allowed_purposes", "tags"):
        held = getattr(entry, name)
        text = form.get(name)
        # the input as the page showed it (the words joined by ", ") is the list held: a
        # purpose or tag holding a comma, or spaces around it, was split and stripped
        # below, and a save of nothing rewrote the purposes queries and grants name (red
        # team 63)
        words = held if text == shown(", ".join(held)) else [as_held(w, held) for w in _words(text)]
        if name in sent and words != held:
            raw[name] = words
    sent_region = form.get("region_field")  # the page sends a field's ``input_key``
    region = next((f.name for f in entry.fields if input_key(f.name) == sent_region),
                  sent_region)  # fmt: skip
    if "region_field" in sent and region != (entry.region_field or ""):
        raw["region_field"] = region or None
    return raw


def patch_of(form: Form, entry: StewardDatasetOut) -> DatasetPatch:
    """Only what the steward changed: each field's level and category, the titles,
    purposes, tags, the region field and the entry's level."""
    raw: dict[str, Any] = {"fields": _field_changes(form, entry), **_entry_changes(form, entry)}
    try:
        return DatasetPatch.model_validate(raw)
    except ValidationError as exc:
        raise BadRequest("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                   for e in exc.errors())) from None  # fmt: skip


@router.post("/console/sources/entries/{dataset_id}/{action}")
async def entry_action(request: Request, dataset_id: str, action: str,
                       caller: Caller = Depends(may_register),
                       form: Form = Depends(csrf_form)) -> Response:  # fmt: skip
    """classify (save corrections), publish, refresh (re-introspect; shows the drift)."""
    services = get_console(request).services
    user = caller.user
    if action == "classify":
        view = await run_in_threadpool(_entry_view, request, caller, dataset_id)
        patch = patch_of(form, view["entry"])
        await run_in_threadpool(lambda: _in_session(request, lambda s: registration.update_dataset(
            session=s, services=services, user=user, dataset_id=dataset_id, patch=patch),
            commit=True))  # fmt: skip
    elif action == "publish":
        await run_in_threadpool(
            lambda: _in_session(
                request,
                lambda s: registration.publish(
                    session=s, services=services, user=user, dataset_id=dataset_id
                ),
                commit=True,
            )
        )
    elif action == "refresh":
        drift = await run_in_threadpool(lambda: _in_session(
            request, lambda s: registration.refresh_schema(
                session=s, services=services, user=user, dataset_id=dataset_id),
            commit=True))  # fmt: skip
        data = await run_in_threadpool(_entry_view, request, caller, dataset_id)
        return render(request, "source_entry.html", levels=LEVELS,
                      pi_categories=PI_CATEGORIES, drift=drift, **data)  # fmt: skip
    else:
        raise BadRequest(f"unknown action {action!r}: classify, publish or refresh")
    return RedirectResponse(f"/console/sources/entries/{dataset_id}", status_code=303)
