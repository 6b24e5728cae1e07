"""The hidden form a page of query results carries (``query_results.html``): its page
buttons post it back, so the paging tests read it as a browser would send it."""

from __future__ import annotations

import re
from html import unescape

_FORM = re.compile(r'<form id="page-form".*?</form>', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]*)" value="([^"]*)">')


def page_form(html: str) -> list[tuple[str, str]]:
    """The page form's hidden inputs, unescaped, in order."""
    form = _FORM.search(html)
    assert form is not None, html[:500]
    return [(unescape(n), unescape(v)) for n, v in _HIDDEN.findall(form.group(0))]
