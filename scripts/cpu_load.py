"""A CPU load generator that keeps every core busy for a bounded time, to show that a
measurement does not move with the machine's load.

``saturated_cpus(seconds)`` is a context manager: it starts one spinning process per core, each
of which stops by itself after ``seconds`` at the latest, and stops them all when the block
ends. From the command line: ``python -m scripts.cpu_load [--seconds S] [--workers N]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

# Each spinner also stops when its parent is gone (it is then re-parented), so a test killed
# half-way leaves no load behind.
_SPIN = (
    "import os, time\n"
    "end = time.monotonic() + {seconds}\n"
    "parent = os.getppid()\n"
    "n = 0\n"
    "while time.monotonic() < end and os.getppid() == parent:\n"
    "    n += sum(range(1000))\n"
)


@contextmanager
def saturated_cpus(seconds: float, workers: int | None = None) -> Iterator[list[int]]:
    """Keep ``workers`` (default: every core) processes spinning for at most ``seconds``;
    yields their pids and stops them when the block ends."""
    count = workers or os.cpu_count() or 1
    processes = [subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=float(seconds))],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(count)]
    try:
        time.sleep(0.2)  # let them reach the spin loop
        yield [p.pid for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cpu_load",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    with saturated_cpus(args.seconds, args.workers) as pids:
        print(f"spinning {len(pids)} process(es) for {args.seconds:.0f}s (Ctrl-C stops)",
              flush=True)
        try:
            time.sleep(args.seconds)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
