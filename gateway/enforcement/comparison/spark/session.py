"""One Spark session per gateway process, made on the first Spark run.

Made lazily: a gateway that never runs a model on Spark never starts a JVM. Its
settings are the ones every run relies on: the UI off (no listening port on the
gateway host), the session time zone UTC (a timestamp is taken at its UTC day, as the
embedded engine takes it), ANSI arithmetic (an overflow fails the run, as
``add_checked`` does in Arrow) and Arrow transfers on. Spark's own logging is off: its
INFO lines name JDBC options, plans and paths, and its ERROR lines print a failed
task's exception whole — a source value the executor choked on (``Failed to parse
string: '<ID number> <name>'``) on the gateway's stderr, beside the run's failure our
log scrubs (red team 37). A run's failure reaches the gateway's log as
``comparison_run_crashed`` (``gateway.core.log_exceptions``) and the trail; a cluster's
executors log by the cluster's own log4j settings.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

JAR_DIR = Path("/usr/share/java")
# the Debian packages' stable names (libpostgresql-jdbc-java, libmariadb-java,
# libxerial-sqlite-jdbc-java): ``make install`` puts them there
JDBC_JARS = ("postgresql.jar", "mariadb-java-client.jar", "sqlite-jdbc.jar")
_LOG4J = Path(__file__).with_name("log4j2.properties")

_lock = threading.Lock()
_sessions: dict[str, SparkSession] = {}


def jdbc_jars(directory: Path = JAR_DIR) -> list[str]:
    """The JDBC driver jars present (a missing one fails only a run that needs it)."""
    return [str(directory / name) for name in JDBC_JARS if (directory / name).exists()]


def spark_session(master: str, *, jars: Sequence[str] | None = None) -> SparkSession:
    """The process's session for ``master``, made once."""
    with _lock:
        found = _sessions.get(master)
        if found is None:
            found = _sessions[master] = _build(master, jdbc_jars() if jars is None else jars)
        return found


def _build(master: str, jars: Sequence[str]) -> SparkSession:
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # the driver listens on loopback only; the workers run this interpreter (the
        # masking code's). A cluster's executors name theirs: PYSPARK_PYTHON
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # its Arrow UDFs use no pandas feature pyspark is unsure of on pandas 3
    warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas",
                            FutureWarning)  # fmt: skip
    # py4j logs every connection at INFO through the root logger
    logging.getLogger("py4j").setLevel(logging.WARNING)
    quiet = f"-Dlog4j2.configurationFile=file:{_LOG4J}"
    builder = (
        SparkSession.builder.master(master)
        .appName("sluice-comparison")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.caseSensitive", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        # a run's limit is the rows it may store (up to millions): above this Spark sorts
        # and takes, instead of a top-K buffer of ``limit`` rows per task (out of memory)
        .config("spark.sql.execution.topKSortFallbackThreshold", "100000")
        .config("spark.driver.extraJavaOptions", quiet)
    )
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    if master.startswith("local"):  # a cluster keeps its own (spark-defaults.conf)
        builder = builder.config("spark.sql.shuffle.partitions", str(local_partitions(master)))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("OFF")  # the properties' level, kept at run time
    return session


def local_partitions(master: str) -> int:
    """Shuffle partitions for a local master: two per thread it runs (``local[N]``,
    ``local[*]``: every core; ``local``: one). Spark's 200 made a small join 200 tasks;
    a fixed 8 still ran four waves of tasks on ``local[2]``, each a round trip to the
    Python workers for the Arrow UDFs, for sides of a few thousand rows."""
    inside = master.removeprefix("local").strip("[]").split(",")[0]
    if inside == "*":
        return max(2, 2 * (os.cpu_count() or 1))
    return max(2, 2 * int(inside)) if inside.isdigit() else 2
