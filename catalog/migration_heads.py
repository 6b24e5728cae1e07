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
from pathlib import Path


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
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError):
                return None
            found, revision = _assigned(tree, "revision")
            has_parent, parent = _assigned(tree, "down_revision")
            if not found or not isinstance(revision, str) or not has_parent:
                return None
            revisions.add(revision)
            if isinstance(parent, str):
                parents.add(parent)
            elif isinstance(parent, tuple | list) and all(isinstance(p, str) for p in parent):
                parents.update(parent)
            elif parent is not None:
                return None
    heads = frozenset(revisions - parents)
    return heads or None
