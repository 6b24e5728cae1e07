"""A separate process that appends to an audit log: for the crash and concurrency tests.

Usage: python -m tests.audit.appender URL HOME COUNT THREADS  (COUNT 0 = until killed)
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from audit.log import AuditLog
from tests.audit.helpers import event


def main() -> None:
    url, home, count, threads = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    log = AuditLog.open(url=url, home=home, checkpoint_every=50, checkpoint_seconds=2.0)
    per_thread = count // threads if count else 0

    def work() -> None:
        n = 0
        while not count or n < per_thread:
            log.append(event(n))
            n += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    print("started", flush=True)
    for worker in workers:
        worker.join()
    log.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
