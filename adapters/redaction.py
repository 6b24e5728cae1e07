"""Keeping secrets out of messages: every driver message passes ``scrub`` before it is
put in a ``SluiceError``, because drivers embed URLs, DSNs and sometimes parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable

_URL_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)[^@\s]*@")
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('[^']*'|\S+)")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
MAX_MESSAGE = 300


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with known secrets, URL passwords, DSN passwords and bearer tokens as
    ``***``, cut to one line of at most ``MAX_MESSAGE`` characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\g<pre>***@", text)
    text = _DSN_PASSWORD.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    line = " ".join(text.split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."
