"""Import the sanitizer build of the native kernels (masking, the policy input) instead of
the installed one.

``make sanitize`` puts this directory first on ``PYTHONPATH`` and names the build in
``SLUICE_SANITIZED_KERNELS``; Python imports ``sitecustomize`` at every start, so pytest
*and* the child interpreters some kernel tests spawn (a crash there is a failure, not
the end of the session) load the sanitized ``.so`` files. A finder first on
``sys.meta_path`` answers for the kernel modules only; everything else imports as
usual.

If a sanitized kernel is missing this refuses to start rather than let the masks fall
back to their Python path, which would make the run pass while checking no C at all.
The sanitized files need the ASan runtime loaded first (``LD_PRELOAD``): without it
their import fails, and so does the run.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

KERNELS = (
    "gateway.enforcement.masking._hmac_tokens",
    "gateway.enforcement.masking._partial_masks",
    "gateway.enforcement.masking._amount_masks",
    "policies._rego_native",
)


class SanitizedKernels(importlib.abc.MetaPathFinder):
    def __init__(self, lib: Path) -> None:
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        self.files = {name: lib.joinpath(*name.split(".")).with_name(
            name.rsplit(".", 1)[1] + suffix) for name in KERNELS}  # fmt: skip
        missing = [str(path) for path in self.files.values() if not path.is_file()]
        if missing:
            raise SystemExit(f"sanitizer build incomplete, missing: {', '.join(missing)}")
        if "libasan" not in Path("/proc/self/maps").read_text():
            raise SystemExit("no ASan runtime: LD_PRELOAD=$(gcc -print-file-name=libasan.so)")

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        return None if file is None else importlib.util.spec_from_file_location(fullname, file)


_lib = os.environ.get("SLUICE_SANITIZED_KERNELS")
if _lib:
    sys.meta_path.insert(0, SanitizedKernels(Path(_lib)))
