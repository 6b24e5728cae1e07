"""Build the masking kernels with AddressSanitizer and UBSan into a directory of their own.

``make sanitize`` runs this, then the kernels' tests against the result (see
``sitecustomize.py`` here). The extension list is read from ``setup.py``, so what is
checked is what ships; only the flags differ:

- ``-fsanitize=address,undefined``: every out-of-bounds read or write, use after free
  and undefined behaviour (signed overflow, misaligned load, bad shift) is reported;
- ``-fno-sanitize-recover=all``: UBSan aborts instead of printing and carrying on, so a
  finding fails the run rather than scrolling past;
- ``-fno-omit-frame-pointer -g -O1``: readable stacks; -O1 rather than the shipped -O3
  so a bad read is not optimised into something else.

The extensions are built *required* here (they are optional for ``pip install``): a
sanitizer build that silently skipped a kernel would check nothing. setuptools'
``build_ext`` is driven directly, without ``setup()``, so pyproject.toml is not
re-read by whichever setuptools the virtualenv holds.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import Distribution, Extension
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parents[2]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
COMPILE = [*SANITIZE, "-fno-omit-frame-pointer", "-g", "-O1"]


def sanitized(ext: Extension) -> Extension:
    return Extension(
        ext.name,
        sources=list(ext.sources),
        depends=list(ext.depends),
        libraries=list(ext.libraries),
        extra_compile_args=COMPILE,
        extra_link_args=SANITIZE,
        optional=False,
    )


def build(out: Path) -> list[Path]:
    """Compile every extension of setup.py into ``out/lib``; the built files."""
    os.chdir(ROOT)  # setup.py names its sources relative to the project root
    extensions = runpy.run_path(str(ROOT / "setup.py"), run_name="sluice_setup")
    command = build_ext(Distribution({"ext_modules": [
        sanitized(ext) for ext in extensions["NATIVE_EXTENSIONS"]
    ]}))  # fmt: skip
    command.build_lib = str(out / "lib")
    command.build_temp = str(out / "tmp")
    command.force = True
    command.ensure_finalized()
    command.run()
    return [Path(path) for path in command.get_outputs()]


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]).resolve()):
        if not path.is_file():
            raise SystemExit(f"sanitizer build missing {path}")
        print(path)
