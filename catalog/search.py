"""Full-text search over catalog entries, in Chinese and English.

Matching is case-insensitive substring matching after NFKC normalisation (so
full-width Latin letters and half-width ones match). It runs in Python over the
entries the SQL filters leave, not in SQL: tags live in a JSON column that SQLAlchemy
stores with escaped non-ASCII (``"\\u4f4e\\u4fdd"``), so ``LIKE '%低保%'`` would miss
them, and a catalog holds hundreds or thousands of entries, not millions. Chinese
needs no tokenizer this way: ``低保`` is a substring of ``城乡低保对象``.

Every whitespace-separated term must match somewhere (AND); hits in titles rank
first, then tags, identifiers, descriptions, then field names and descriptions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from catalog.models import Dataset

TITLE, TAG_EXACT, TAG, IDENT, DESCRIPTION, FIELD = 100, 40, 20, 10, 5, 1


def normalize(text: str) -> str:
    """Casefold after NFKC, the form both the query and the entries are compared in."""
    return unicodedata.normalize("NFKC", text).casefold()


def terms_of(query: str | None) -> list[str]:
    """The search terms of a query; an empty list means "no text filter"."""
    return normalize(query or "").split()


def _term_score(term: str, ds: Dataset) -> int:
    score = 0
    if term in normalize(ds.title_zh) or term in normalize(ds.title_en):
        score += TITLE
    tags = [normalize(t) for t in ds.tags or []]
    if term in tags:
        score += TAG_EXACT
    elif any(term in t for t in tags):
        score += TAG
    if term in normalize(ds.id):
        score += IDENT
    if term in normalize(ds.description_zh) or term in normalize(ds.description_en):
        score += DESCRIPTION
    for f in ds.fields:
        if term in normalize(f.name) or term in normalize(f.description):
            score += FIELD
            break
    return score


def score(ds: Dataset, terms: list[str]) -> int:
    """Relevance of ``ds`` for ``terms``; 0 when any term matches nowhere."""
    total = 0
    for term in terms:
        hit = _term_score(term, ds)
        if hit == 0:
            return 0
        total += hit
    return total


def rank(datasets: Iterable[Dataset], query: str | None) -> list[Dataset]:
    """The datasets matching ``query``, best first (ties by id); all of them, by id, when
    the query is empty."""
    terms = terms_of(query)
    items = sorted(datasets, key=lambda d: d.id)
    if not terms:
        return items
    scored = [(score(d, terms), d) for d in items]
    return [d for s, d in sorted(scored, key=lambda p: (-p[0], p[1].id)) if s > 0]


def has_tag(ds: Dataset, tag: str) -> bool:
    """Exact tag match, case-insensitive."""
    wanted = normalize(tag)
    return any(normalize(t) == wanted for t in ds.tags or [])
