"""Server-rendered HTML: one Jinja2 environment, autoescaping everything.

Values from sources and from users are hostile by assumption: every template is
escaped (``autoescape=True`` for all names, not only ``*.html``), ``StrictUndefined``
turns a typo into an error instead of an empty string, and no template uses ``|safe``
(``tests/gateway/web/console/test_templates.py`` checks). Autoescaping makes a value
inert as HTML, not as text: every printed value's controls and bidi overrides are also
shown escaped (``shown``, the environment's ``finalize``). The same page serves htmx: a request
with ``HX-Request`` gets only the ``content`` block (``partial``), so one template is
the whole page and its fragment.

``shown`` is for reading and is not one-to-one (``note`` + U+200B and the plain text
``note\\u200b`` print alike), so a form never keys or carries a value by what the page
printed (red teams 62–64). Which reader each kind of input uses:

* a name the catalog holds, as an input's name or a value the page sends back exactly
  (a field's level and category selects, a carried query, an offered case reference):
  ``input_key`` (hex of its UTF-8), read back with ``from_input_key``;
* a box or an option naming one of a closed set (an entry's fields, its purposes):
  ``offered`` — refused (400) where two names print alike;
* a one-line text input prefilled with one held value (a title, a display name, a case
  reference): ``left_as_shown`` — left as printed, it is the held value;
* a list input prefilled with several (purposes and tags joined): ``as_held`` per item.

Every console response is ``Cache-Control: no-store``: a page may hold masked personal
data, and a shared machine's browser cache must not keep it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from catalog.controls import IN_A_PAGE, escape
from catalog.errors import BadRequest
from gateway.web.console.i18n import LANG_COOKIE, LANGS, choose_lang, translate
from gateway.web.console.menu import navigation
from gateway.web.console.runtime import get_console
from gateway.web.public_origin import served_over_https

TEMPLATES = Path(__file__).parent / "templates"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,
    )
    env.globals["input_key"] = input_key
    return env


def shown(value: Any) -> Any:
    """Every value a template prints, its controls as ``\\uXXXX`` (``IN_A_PAGE``), as
    the terminal shows them: autoescaping makes text inert as HTML, not as text — a
    right-to-left override in an analyst's case reference or a model's name reversed
    what followed it in the officer's table cell, so the page said other than the record
    (red team 61's left row). Applied before escaping; markup a filter made (``tojson``)
    stays markup, the replacement being plain ASCII (and ``\\uXXXX`` is the same
    character again inside a JSON string)."""
    if not isinstance(value, str) or IN_A_PAGE.search(value) is None:
        return value
    text = IN_A_PAGE.sub(escape, value)
    # markup stays markup (it was markup already; the escapes are plain ASCII); any other
    # kind of text (a driver's ``quoted_name``, whose constructor takes more than the
    # text: a 500) is printed as plain text (red team 64)
    return Markup(text) if isinstance(value, Markup) else text  # noqa: S704


def as_held(sent: str, held: list[str]) -> str:
    """The value of ``held`` whose page display (``shown``) is ``sent``, else ``sent``: a
    form input left as the page showed it is no change — saved as sent, the escaped
    display replaced a title, a purpose or a display name that held a control (red team
    62)."""
    return next((h for h in held if h != sent and shown(h) == sent), sent)


def left_as_shown(text: str, held: str | None) -> str:
    """A one-line input's value as saved: ``held`` if ``text`` is exactly its page
    display — spaces around it included, which the edit's own stripping removed, so a
    save of nothing rewrote a title or a display name (red team 63) — else ``text``
    stripped, or the held value whose display that is (``as_held``)."""
    if held is None:
        return text.strip()
    return held if text == shown(held) else as_held(text.strip(), [held])


def offered(sent: str, held: list[str]) -> str:
    """The name of ``held`` (an entry's fields, its purposes) that a box or an option the
    page printed names: ``sent`` itself, or the one whose display (``shown``) it is. The
    page prints a name through ``shown`` — ``note`` + U+200B as ``note\\u200b`` text,
    which named no field, or a look-alike named so in plain text (red team 64); where a
    name and another's display are alike the console cannot tell which was ticked, and
    refuses (400)."""
    meant = [h for h in held if h != sent and shown(h) == sent]
    if (meant and sent in held) or len(meant) > 1:
        raise BadRequest("two of the entry's names show alike on the page; ask through the API")
    return meant[0] if meant else sent


def input_key(name: str) -> str:
    """A name held in the catalog (a field's) as a form input's name or value: its UTF-8
    bytes in hex. What a page prints goes through ``shown``, which is for reading, not
    one-to-one — ``note`` and a zero-width space, and the plain text ``note\\u200b``,
    print alike — and an input keyed by that display named no field, or another one: a
    steward's save of the entry page unchanged gave an ID-number column a look-alike
    column's level and category (red team 64). Plain ASCII, so ``shown`` leaves it be."""
    return name.encode("utf-8", "surrogatepass").hex()


def from_input_key(key: str, refusal: str) -> str:
    """The value ``input_key`` printed, from what the form sent back: a 400 saying
    ``refusal`` when it is not hex of UTF-8, and one for a NUL (as the console's forms
    refuse one, which a hex key passes)."""
    try:
        value = bytes.fromhex(key).decode("utf-8")
    except ValueError:
        raise BadRequest(refusal) from None
    if "\x00" in value:
        raise BadRequest("a form value holds a NUL character")
    return value


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _lang_url(request: Request, lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    return f"{request.url.path}?{urlencode(params)}"


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for this request's caller and language."""
    env = get_console(request).templates
    lang, from_query = choose_lang(request)
    caller = getattr(request.state, "console_caller", None)
    other = next(code for code in LANGS if code != lang)
    base: dict[str, Any] = {
        "_": lambda key, **params: translate(lang, key, **params),
        "lang": lang,
        "lang_switch_url": _lang_url(request, other),
        "caller": caller,
        "csrf_token": caller.session.csrf_token if caller is not None else "",
        "nav": navigation(request, caller),
        "path": request.url.path,
        "partial": is_htmx(request),
    }
    html = env.get_template(template).render({**base, **context})
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    if from_query:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="strict", secure=served_over_https(request),
                            path="/")  # fmt: skip
    return response
