"""``python -m bench.cli_startup [--runs N]``: how long the quick CLI commands take, as
ratios to ``python -c pass`` on the same machine in the same run (issue 17: ``sluice
--help`` and ``sluice token USER`` should finish in well under a second).

Each command runs ``--runs`` times in a fresh process (medians of wall and CPU time,
children included); ``sluice token`` in a temporary home holding one user, so it pays
what a newcomer's does: settings, the catalog (already migrated after the first run),
the signing key, and the ``token.issued`` record it appends before printing. Printed,
not stored.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_startup")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sluice = str(Path(sys.executable).with_name("sluice"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SLUICE_HOME": str(Path(tmp) / "home")}
        subprocess.run([sluice, "users", "add", "bench", "--name", "Bench",
                        "--clearance", "L2"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "sluice --help": [sluice, "--help"],
            "sluice token bench": [sluice, "token", "bench"],
        }
        medians: dict[str, tuple[float, float]] = {}
        for name, argv in commands.items():
            _timed(argv, env)  # warm: byte-code cache, the first migration
            runs = [_timed(argv, env) for _ in range(args.runs)]
            medians[name] = (statistics.median(w for w, _ in runs),
                             statistics.median(c for _, c in runs))  # fmt: skip
    base_wall, base_cpu = medians["python -c pass"]
    print(f"{'command':<22} {'wall s':>8} {'CPU s':>8} {'wall ×pass':>11} {'CPU ×pass':>10}")
    for name, (wall, cpu) in medians.items():
        print(f"{name:<22} {wall:8.3f} {cpu:8.3f} {wall / base_wall:10.1f}× "
              f"{cpu / max(base_cpu, 1e-3):9.1f}×")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
