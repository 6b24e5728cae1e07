"""Path safety for file-backed sources (CSV, Parquet, SQLite files).

Order of checks matters and is: (1) the text of the name — NUL bytes, absolute paths,
``..`` components, also after percent-decoding (``%2e%2e``), backslashes; (2) the real
path (``os.path.realpath``, which resolves every symlink) must lie inside the real path
of the source root, which itself must lie inside one of the admin's allowed roots
(``SLUICE_FILE_ROOTS``). With no allowed root configured, file sources are refused.

The adapters open the *resolved* path, so a symlink inside the root that points out is
refused rather than followed. A race where an admin-controlled directory is changed
between the check and the open is out of scope (see THREAT_MODEL.md: the roots are
trusted, writable only by the department's steward and the admin).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Sequence

from catalog.errors import BadRequest, Forbidden

MAX_NAME = 1024


def _has_traversal(text: str) -> bool:
    parts = text.replace("\\", "/").split("/")
    # ``..;x`` is ``..`` to servlet containers, which cut a segment's parameters off
    # before they route (an HTTP object path, red team 11)
    return any(part.split(";", 1)[0] == ".." for part in parts)


def _decoded_forms(text: str) -> list[str]:
    forms = [text]
    for _ in range(3):  # %252e%252e → %2e%2e → ..
        decoded = urllib.parse.unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def check_text(path: object, *, what: str, relative: bool) -> str:
    """Refuse NUL bytes, ``..`` (plain or percent-encoded), and — for object names —
    absolute paths, backslashes and home-relative paths."""
    if not isinstance(path, str) or not path:
        raise BadRequest(f"{what} must be a non-empty string")
    if len(path) > MAX_NAME:
        raise BadRequest(f"{what} is too long")
    for form in _decoded_forms(path):
        if "\x00" in form:
            raise BadRequest(f"{what} contains a NUL byte")
        if _has_traversal(form):
            raise BadRequest(f"{what} must not contain '..'")
        if relative and (form.startswith(("/", "~")) or os.path.isabs(form)):
            raise BadRequest(f"{what} must be relative to the source root, not absolute")
        if relative and ("\\" in form or (len(form) > 1 and form[1] == ":")):
            raise BadRequest(f"{what} must use '/' separators and no drive letter")
    return path


def is_inside(real: str, real_root: str) -> bool:
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:
        return False


def ensure_inside_roots(path: str, roots: Sequence[str], *, what: str) -> str:
    """The real path of ``path`` if it lies inside one of ``roots``; else ``Forbidden``."""
    if not roots:
        raise Forbidden(
            f"{what}s are disabled: no allowed file root is configured (SLUICE_FILE_ROOTS)"
        )
    check_text(path, what=what, relative=False)
    real = os.path.realpath(path)
    for root in roots:
        if is_inside(real, os.path.realpath(root)):
            if not os.path.exists(real):
                raise BadRequest(f"{what} {os.path.basename(path)!r} does not exist")
            return real
    raise Forbidden(f"{what} is outside the allowed file roots")


def resolve_object(real_root: str, name: str, roots: Sequence[str]) -> str:
    """The real path of object ``name`` under ``real_root``: a regular file that stays
    inside the root after every symlink is resolved."""
    check_text(name, what="file name", relative=True)
    real = os.path.realpath(os.path.join(real_root, name))
    if not is_inside(real, real_root):
        raise Forbidden(f"file {name!r} resolves outside the source root")
    ensure_inside_roots(real, roots, what="file")
    if not os.path.isfile(real):
        raise BadRequest(f"file {name!r} does not exist in this source")
    return real
