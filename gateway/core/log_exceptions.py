"""A failure in the log: where it happened and what kind it was, not the values.

structlog's ``format_exc_info`` prints the traceback Python would, each exception's
message whole, and messages carry the values that broke something: a driver's
``invalid input syntax for type integer: "<ID number> <name>"``, a library's ``could
not read row <ID number>``. The trail never holds a raw ID number; the log, which
operators ship to a log service, held them in every ``unhandled_error`` and
``comparison_run_crashed`` line (red team 34's left row). Here each exception of the
chain keeps its frames (file, line, function, the line of code: the code is ours) and
its type, and its message keeps only its head (``catalog.value_free_text``). The
incident number in the 500's answer and in the line joins the two for whoever
reproduces it.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator, MutableMapping
from typing import Any

from catalog.value_free_text import head_words

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def scrubbed_exc_info(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """A structlog processor in place of ``format_exc_info``: ``exc_info`` (True, a
    tuple or an exception, as structlog and the stdlib's records give it) becomes the
    ``exception`` text."""
    exc = _exception(event.pop("exc_info", None))
    if exc is not None:
        event["exception"] = render(exc)
    return event


def _exception(exc_info: object) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info is True:
        return sys.exc_info()[1]
    return None


def render(exc: BaseException) -> str:
    """The chain, oldest first, as Python prints it, each message cut to its head."""
    parts: list[str] = []
    for one, link in _chain(exc):
        parts.append(link)
        frames = "".join(traceback.format_list(traceback.extract_tb(one.__traceback__)))
        head, cut = head_words(str(one))
        message = ": " + " ".join(filter(None, (head, "…" if cut else ""))) if head or cut else ""
        parts.append(f"Traceback (most recent call last):\n{frames}{_type_name(one)}{message}\n")
    return "".join(parts).rstrip("\n")


def _chain(exc: BaseException) -> Iterator[tuple[BaseException, str]]:
    """(exception, the words that link it to the one before), oldest first."""
    found: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            found.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            found.append((current, _CONTEXT))
            current = current.__context__
        else:
            found.append((current, ""))
            current = None
    # each newer exception's link names the one printed before it; the oldest has none
    for i, (one, link) in enumerate(reversed(found)):
        yield one, link if i else ""


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    module = kind.__module__
    if module in ("builtins", "__main__"):
        return kind.__qualname__
    return f"{module}.{kind.__qualname__}"
