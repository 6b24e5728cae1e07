"""Red team 37, as whoever reads the gateway's log: a source value in Spark's own lines.

Rule (THREAT_MODEL.md, thirty-eighth pass c; ``gateway.core.log_exceptions``): the log,
which operators ship to a log service, carries no value a failure choked on — each
exception's message is cut to its head, in structlog's lines and the stdlib's alike.

Attack: Spark does not log through either. Its log4j console (WARN in the properties,
ERROR at run time) wrote an executor's failed task whole on the gateway's stderr: a CSV
side's date column holding ``<ID number> <name>`` (a department's export with a
shifted column) fails the cast on the executor (``CsvTyped``), and the line
``spark ERROR Executor: Exception in task …`` carried Python's traceback with
``Failed to parse string: '<ID number> <name>'``. The run's own failure
(``comparison_run_crashed``) was scrubbed; Spark's copy beside it was not.

Expected: Spark's own console log is off (a run's failure is in the gateway's log,
scrubbed, and on the trail). Spark's log is the process's, whatever the catalog's
database: its console is read whole. The suite's Spark JVM (``tests/spark_jvm.py``)
writes its console to a file of its own, read from before the failing task to after
the next job; in a process whose JVM was started otherwise, the test starts a process
of its own and reads its stderr whole.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql.pandas.types import from_arrow_schema

from gateway.enforcement.comparison.spark.govern import CsvTyped
from tests.spark_jvm import console, console_mark, console_since, shared_spark

pytestmark = pytest.mark.xdist_group("spark")
ROOT = Path(__file__).resolve().parents[2]
ID_NUMBER = "110101199001011234"
SCRIPT = f"""
import pyarrow as pa
from pyspark.sql.pandas.types import from_arrow_schema
from gateway.core.logs import configure_logging
from gateway.enforcement.comparison.spark.govern import CsvTyped
from gateway.enforcement.comparison.spark.session import spark_session

configure_logging(env="production")
spark = spark_session("local[1]")
frame = spark.createDataFrame([("{ID_NUMBER} 张三",)], "died_on string")
schema = pa.schema([("died_on", pa.date32())])
try:
    frame.mapInArrow(CsvTyped(schema), from_arrow_schema(schema)).collect()
except Exception as exc:
    print("failed", type(exc).__name__)
"""


def test_a_failed_spark_task_puts_no_value_in_the_log(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    spark = shared_spark()
    if console() is None:  # this process's JVM writes where the test cannot read
        _in_a_process_of_its_own()
        return
    mark = console_mark()
    frame = spark.createDataFrame([(f"{ID_NUMBER} 张三",)], "died_on string")
    schema = pa.schema([("died_on", pa.date32())])
    with pytest.raises(Exception):  # noqa: B017 (the executor's failure, as pyspark raises it)
        frame.mapInArrow(CsvTyped(schema), from_arrow_schema(schema)).collect()
    # a job after it: the failed one's scheduler lines (the same event loop) are written
    assert spark.range(3).count() == 3
    out, err = capfd.readouterr()
    lines = (console_since(mark) + out + err + caplog.text).splitlines()
    leaked = [line for line in lines if ID_NUMBER in line or "张三" in line]
    assert not leaked, leaked[:3]


def _in_a_process_of_its_own() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT),
                          "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})  # fmt: skip
    assert "failed" in done.stdout, (done.stdout, done.stderr[-2000:])
    leaked = [line for line in done.stderr.splitlines() if ID_NUMBER in line or "张三" in line]
    assert not leaked, leaked[:3]
