"""Form bodies (``application/x-www-form-urlencoded``), read bounded and strictly.

The console's forms are small: a body over ``MAX_FORM_BYTES`` is a 413 before it is
parsed. Values must be valid UTF-8 without NUL (the same rule ``gateway.web.text_guard``
applies to JSON bodies: nothing the rest of the product cannot store or hand on).
No multipart: no console form uploads files, so no parser for them is exposed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import Request

from catalog.errors import BadRequest, TooLarge

MAX_FORM_BYTES = 64 * 1024
MAX_FIELDS = 500


class Form:
    """Parsed form fields; every name may repeat (checkbox lists)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        for key, value in self._pairs:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def items(self) -> list[tuple[str, str]]:
        """Every field in order, repeats included."""
        return list(self._pairs)


async def read_form(request: Request) -> Form:
    """The request's form, or ``BadRequest`` / ``TooLarge``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("expected a form (application/x-www-form-urlencoded)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise TooLarge(f"form over {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                          encoding="utf-8", errors="strict", max_num_fields=MAX_FIELDS)  # fmt: skip
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid URL-encoded UTF-8") from None
    if any("\x00" in key or "\x00" in value for key, value in pairs):
        raise BadRequest("text holding a NUL character is refused")
    return Form(pairs)
