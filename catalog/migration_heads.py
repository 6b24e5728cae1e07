"""The newest revisions of the code's migration history, read from the version files
themselves: a process that finds its database already there (every CLI command, every
gateway start after the first) skips alembic, whose import and script scan cost about
half a second each time.

Only plain literals are read (``revision = "…"``, ``down_revision = "…" | (…) | None``);
any file that is not so plain makes the answer ``None``, and the caller runs alembic as
before. The heads are the revisions no other revision names as its parent — alembic's
own definition — so a new migration file moves them and the database is upgraded."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

Version = tuple[str, tuple[str, ...]] | None
"""A version file's revision and the parents it names; None when not plain literals."""


def _assigned(tree: ast.Module, name: str) -> tuple[bool, object]:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                if node.value is None:
                    return False, None
                try:
                    return True, ast.literal_eval(node.value)
                except ValueError:
                    return False, None
    return False, None


def code_heads(locations: Iterable[Path]) -> frozenset[str] | None:
    """The head revisions of the version files in ``locations``; None when unsure."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for folder in locations:
        for path in sorted(folder.glob("*.py")):
            try:
                stat = path.stat()
            except OSError:
                return None
            version = _version(path, stat.st_mtime_ns, stat.st_size)
            if version is None:
                return None
            revisions.add(version[0])
            parents.update(version[1])
    heads = frozenset(revisions - parents)
    return heads or None


@lru_cache(maxsize=1024)
def _version(path: Path, _mtime_ns: int, _size: int) -> Version:
    """One version file, parsed once per content as its stat tells it: every gateway a
    process builds (a test suite builds hundreds) asked again, and parsing some thirty
    files each time was most of ``at_heads``. A file written since has another stat."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    found, revision = _assigned(tree, "revision")
    has_parent, parent = _assigned(tree, "down_revision")
    if not found or not isinstance(revision, str) or not has_parent:
        return None
    if isinstance(parent, str):
        return revision, (parent,)
    if isinstance(parent, tuple | list) and all(isinstance(p, str) for p in parent):
        return revision, tuple(parent)
    return (revision, ()) if parent is None else None
