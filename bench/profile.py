"""``python -m bench.profile [--embedded] [--gil] [--seconds N] [--top K]``: where the governed
small query's Python time goes, sampled by py-spy in the bench gateway process under
load (wrk, 8 clients), every thread included (the route and the identity lookup run in
the thread pool, the audit writer in its own thread).

Prints the functions with the most samples (inclusive, then self) as shares of the
samples taken while the load ran; the raw collapsed stacks stay in the gateway's home
for a flame graph. Not part of ``make bench``: a tool for the next cut, not a figure.

``--gil`` samples only the thread holding the GIL: the Python CPU, which is what limits
throughput in one process. Without it, a thread waiting in C (a socket read, a GIL
re-acquisition after ``hashlib``) counts as busy and the split misleads.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from bench.load import run_load
from bench.proc import Gateway
from bench.small import BODY, GOVERNED


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return [f.rsplit(" (", 1)[0] + " (" + f.rsplit(" (", 1)[-1] for f in stack.split(";")], int(
        count
    )


def summarise(raw: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip() or not line.rpartition(" ")[2].isdigit():
            continue  # a stack py-spy cut short (seen under load: no count at its end)
        frames, n = _frames(line)
        # idle threads (waiting on a lock, a queue or the selector) are not Python work
        if any(w in frames[-1] for w in ("wait (threading", "select (selectors", "_worker (")):
            continue
        total += n
        for f in set(frames):
            inclusive[f] += n
        own[frames[-1]] += n
    out = [f"{total} busy samples", "", "inclusive:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--gil", action="store_true",
                        help="only the thread holding the GIL: where the Python CPU goes, "
                        "without the threads waiting on a socket or a lock")  # fmt: skip
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    gw = Gateway(embedded=args.embedded)
    try:
        token = gw.tokens["alice"]
        run_load(GOVERNED, BODY, token=token, concurrency=4, seconds=1)  # warm up
        raw = gw.home / "profile.txt"
        rec = subprocess.Popen([spy, "record", "--pid", str(gw.pid), "--format", "raw",
                                "--duration", str(args.seconds), "--rate", "250",
                                "--output", str(raw), "--nonblocking",
                                *(["--gil"] if args.gil else [])],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        load = threading.Thread(target=run_load, args=(GOVERNED, BODY),
                                kwargs={"token": token, "concurrency": 8,
                                        "seconds": args.seconds})  # fmt: skip
        load.start()
        load.join()
        rec.wait()
        print(summarise(raw, args.top))
        print(f"\nraw stacks: {raw}", file=sys.stderr)
    finally:
        gw.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
