"""The suite's Spark JVM: one per test process, its console output kept in a file.

A Spark session is the process's (one SparkContext per JVM, one JVM per Python
process), so the Spark tests of one xdist worker share it (the ``spark`` group,
``tests/scheduling.py``): the JVM's start costs seconds of both cores. Red team 37's
test reads what Spark itself writes on the console (``tests/attacks/
test_redteam37_log_reader_spark_values.py``); it ran its own JVM in a process of its own
to read that process's stderr whole. ``shared_spark`` starts the suite's JVM with its
stdout and stderr on a file of its own (the launcher, the JVM and the Python workers it
starts inherit them), so that test reads the same output of the same session the
product builds (``spark_session``) without a second JVM.

Only the start is redirected: the test process's own descriptors are put back at once.
A JVM started some other way (a test that ran Spark first without this helper) has no
such file: ``console`` says so, and the red team test then starts its own process.
"""

from __future__ import annotations

import atexit
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.enforcement.comparison.spark.session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER = "local[2]"
_console: list[Path] = []  # the file the running JVM writes its console to, once known


def shared_spark(master: str = MASTER) -> SparkSession:
    """The process's session for ``master``; the JVM, when this starts it, writes its
    console to ``console()``."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:  # started already, by whoever
        return spark_session(master)
    fd, name = tempfile.mkstemp(prefix="sluice-spark-console-", suffix=".log")
    os.close(fd)
    with _descriptors_to(Path(name)):
        session = spark_session(master)
    _console.append(Path(name))
    atexit.register(_console[0].unlink, missing_ok=True)  # the JVM ends with the process
    return session


def console() -> Path | None:
    """The file this process's JVM writes its stdout and stderr to, if ``shared_spark``
    started it."""
    return _console[0] if _console else None


def console_mark() -> int:
    """Where the JVM's console file ends now (0 when there is none)."""
    written = console()
    return written.stat().st_size if written is not None else 0


def console_since(mark: int) -> str:
    """What the JVM wrote on its console since ``console_mark`` gave ``mark`` ("" when
    this process's JVM was started otherwise)."""
    written = console()
    if written is None:
        return ""
    with written.open("rb") as jvm:
        jvm.seek(mark)
        return jvm.read().decode(errors="replace")


@contextmanager
def _descriptors_to(path: Path) -> Iterator[None]:
    """fds 1 and 2 on ``path`` (appending) for the block: a child started in it keeps them."""
    target = os.open(path, os.O_WRONLY | os.O_APPEND)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        for fd in saved:
            os.dup2(target, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(target)
