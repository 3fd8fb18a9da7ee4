"""The main job: benchmark the commits of main that have no results for this machine yet, publish
the dashboard (offline), and say how to open it.

Usage: python -m scripts.benchmark_history [--max-commits N] [--machine NAME] [--list]

Which commits: the first-parent line of ``main`` (oldest first), keeping those on which the
``governance`` package exists and whose package differs from their parent's (a change under
``governance/`` or to ``pyproject.toml``). A commit that changes only tests, scripts, docs,
benchmarks or results installs the very same package as its parent, and asv always takes the
benchmark suite from the working tree, so its numbers would be its parent's again. Of those, the
ones without a result file for the machine are run, the newest ``--max-commits`` of them.
Results go to ``results/<machine>/`` under one stable machine name per
hardware class, never under the hostname (``scripts/machines.py``: ``$ASV_MACHINE``, else the
machine recorded under ``results/`` with this host's hardware, else a name derived from the
hardware); a name recorded with other hardware is refused (exit 2).

Two series per commit: the timings (every benchmark but the instruction counters) under the
hardware's machine name, and the instruction counters (``*Instruction*`` benchmarks, one valgrind
process per commit) under the counter machine (``callgrind-<python>-<arch>-valgrind<version>``):
counts do not depend on the host's speed, so they form a series of their own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.callgrind import counter_machine_name, valgrind_version
from scripts import machines
from scripts.machines import MACHINE_FILE, RESULTS, Hardware, MachineMismatch, machine_name

ROOT = Path(__file__).resolve().parents[1]
COUNTER_BENCH = "Instruction"
"""Selects the instruction counters (``*Instructions``, ``*InstructionRatioToFloor``)."""
TIMING_BENCH = f"^(?!.*{COUNTER_BENCH})"
"""Selects every other benchmark: timings, allocation twins, timing ratios."""
BRANCH = "main"
PACKAGE_PATHS = ("governance/", "pyproject.toml")
HASHFILE = ROOT / ".asv" / "pending-commits.txt"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def counter_machine() -> str:
    """The counter machine's name: ``$ASV_COUNTER_MACHINE`` or ``counter_machine_name()``."""
    return os.environ.get("ASV_COUNTER_MACHINE") or counter_machine_name()


def has_package(commit: str) -> bool:
    probe = subprocess.run(["git", "cat-file", "-e", f"{commit}:governance/__init__.py"],
                           cwd=ROOT, capture_output=True)
    return probe.returncode == 0


def package_changed(commit: str) -> bool:
    """Whether ``commit`` changes the installed package relative to its first parent (a root
    commit always does)."""
    parents = git("rev-list", "--parents", "-n", "1", commit).split()[1:]
    if not parents:
        return True
    changed = git("diff", "--name-only", parents[0], commit).splitlines()
    return any(path.startswith(PACKAGE_PATHS) for path in changed)


def benchmarkable_commits() -> list[str]:
    """First-parent commits of main, oldest first, that hold the package and change it."""
    commits = git("rev-list", "--first-parent", "--reverse", BRANCH).split()
    return [c for c in commits if has_package(c) and package_changed(c)]


def commits_with_results(machine: str) -> set[str]:
    """Commit hashes (8-character prefixes) with a result file for ``machine``."""
    folder = RESULTS / machine
    if not folder.is_dir():
        return set()
    found = set()
    for path in folder.glob("*.json"):
        if path.name == MACHINE_FILE:
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("commit_hash"):
            found.add(data["commit_hash"][:8])
    return found


def register_machine(machine: str, results_dir: Path = RESULTS) -> None:
    """Record this machine's description (os, arch, cpu, cores, ram as asv detects them) under
    the stable name, in asv's machine file and in ``results/<machine>/machine.json``.

    asv writes the description into every result and draws one series per distinct
    description, so a machine already recorded keeps its recorded description as long as this
    host is of the same hardware class (a rebooted VM reports another kernel build and a few
    hundred KB less memory; that is not another machine). A host of another class is refused
    with ``MachineMismatch``, its ``machine.json`` left as it is: its numbers would land in the
    same series. ``asv machine --yes --machine NAME`` would store only the name: asv keeps just
    the values that differ from its detected defaults.
    """
    _save_machine({**machines.host_description(), "machine": machine},
                  lambda recorded, host: Hardware.of(recorded).differences(Hardware.of(host)),
                  "set $ASV_MACHINE (or --machine) to a name of its own", results_dir)


def register_counter_machine(machine: str) -> None:
    """Record the counter machine: what decides whether two counts compare (architecture,
    interpreter build, glibc, valgrind), in the fields asv's machine file has."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    libc = " ".join(platform.libc_ver()).strip() or "unknown libc"
    info = {
        "arch": platform.machine(),
        "cpu": f"callgrind (valgrind {valgrind_version()}): {python} "
               f"[{platform.python_compiler()}], {libc}",
        "machine": machine,
        "num_cpu": "1",
        # Counts do not depend on the kernel: its release would only split the series.
        "os": platform.system(),
        "ram": "",
    }
    _save_machine(info, _counting_differences,
                  "set $ASV_COUNTER_MACHINE (or --counter-machine) to a name of its own")


def _counting_differences(recorded: dict[str, Any], host: dict[str, Any]) -> list[str]:
    """What decides whether two counts compare: the architecture and the counting build."""
    return [f"{key} {recorded.get(key)!r} recorded, {host.get(key)!r} here"
            for key in ("arch", "cpu") if recorded.get(key) != host.get(key)]


Differences = Callable[[dict[str, Any], dict[str, Any]], list[str]]
"""The facts in which a recorded machine description and this host's differ (none: the same
machine)."""


def _save_machine(info: dict[str, Any], differences: Differences, hint: str,
                  results_dir: Path = RESULTS) -> None:
    """Save ``info`` as asv's machine and in ``results/<machine>/machine.json``; a machine
    already recorded keeps its recorded description if ``differences`` finds none, and is
    refused otherwise with ``MachineMismatch``, nothing written (its numbers would not
    compare with the series')."""
    from asv.machine import MachineCollection

    machine = info["machine"]
    path = results_dir / machine / MACHINE_FILE
    if path.exists():
        recorded = {k: v for k, v in json.loads(path.read_text()).items() if k != "version"}
        found = differences(recorded, info)
        if found:
            raise MachineMismatch(machine, found, hint)
        info = recorded
    MachineCollection.save(machine, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "version": 1}, indent=4) + "\n")


def run_commits(commits: list[str], machine: str, bench: str = TIMING_BENCH,
                config: Path | None = None) -> int:
    """``asv run`` of the benchmarks ``bench`` selects on ``commits`` under ``machine``, with
    the project's ``asv.conf.json`` or the given ``config``."""
    HASHFILE.parent.mkdir(exist_ok=True)
    hashfile = HASHFILE.with_name(f"pending-{machine}.txt")
    hashfile.write_text("".join(f"{c}\n" for c in commits))
    print(f"== benchmarking {len(commits)} commit(s) on machine '{machine}' (-b {bench})",
          flush=True)
    started = time.monotonic()
    options = [] if config is None else ["--config", str(config)]
    status = subprocess.run(
        # --skip-existing runs, for each commit, only the benchmarks it has no result for: all of
        # them on a new commit, the ones added to the suite since on an older one (--fill).
        [sys.executable, "-m", "asv", "run", f"HASHFILE:{hashfile}", "--machine", machine,
         "-b", bench, "--skip-existing", "--show-stderr", *options],
        cwd=ROOT).returncode
    print(f"== asv run finished in {time.monotonic() - started:.0f}s (exit {status})", flush=True)
    return status


def publish() -> None:
    print("== publishing the dashboard", flush=True)
    subprocess.run(["bash", str(ROOT / "scripts" / "publish.sh")], cwd=ROOT, check=True)


def select_commits(candidates: list[str], machine: str, max_commits: int,
                   fill: bool) -> list[str]:
    """Of ``candidates``, those without results for ``machine`` (the newest ``max_commits``),
    and with ``fill`` those with results too (to run benchmarks added since)."""
    done = commits_with_results(machine)
    missing = [c for c in candidates if c[:8] not in done]
    selected = missing[-max_commits:] if max_commits > 0 else []
    if fill and max_commits > 0:
        selected = [c for c in candidates if c in selected or c[:8] in done]
    have = len(candidates) - len(missing)
    print(f"== {len(candidates)} benchmarkable commit(s) on {BRANCH}, {have} with results for "
          f"'{machine}', {len(missing)} missing, running {len(selected)}", flush=True)
    return selected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_history",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--max-commits", type=int, default=30,
                        help="benchmark at most this many missing commits, newest first "
                             "(default 30)")
    parser.add_argument("--machine", default=None,
                        help="stable machine name of the timings (default $ASV_MACHINE, else "
                             "the machine recorded under results/ with this host's hardware, "
                             "else <cpu-model>-<N>cpu-<M>gib); refused if recorded with other "
                             "hardware")
    parser.add_argument("--counter-machine", default=counter_machine(),
                        help="machine name of the instruction counters (default "
                             "$ASV_COUNTER_MACHINE or callgrind-<python>-<arch>-valgrind<v>)")
    parser.add_argument("--no-counters", action="store_true",
                        help="run the timings only, not the instruction counters")
    parser.add_argument("--fill", action="store_true",
                        help="also run, on commits that have results, the benchmarks added to "
                             "the suite since they were benchmarked")
    parser.add_argument("--list", action="store_true",
                        help="only list the commits that would be benchmarked")
    parser.add_argument("--no-publish", action="store_true", help="skip publishing")
    args = parser.parse_args(argv)

    try:
        machine = machine_name(args.machine)
    except MachineMismatch as error:
        print(f"benchmark_history: {error}", file=sys.stderr, flush=True)
        return 2
    candidates = benchmarkable_commits()
    timing = select_commits(candidates, machine, args.max_commits, args.fill)
    counters = select_commits(candidates, args.counter_machine, args.max_commits, args.fill)
    if args.list:
        for label, selected in (("timings", timing), ("counters", counters)):
            print(f"== {label}:")
            for commit in selected:
                print(git("log", "-1", "--format=%h %ad %s", "--date=short", commit).strip())
        return 0

    status = 0
    try:
        if timing:
            register_machine(machine)
            status = run_commits(timing, machine, TIMING_BENCH)
        if counters and not args.no_counters:
            if valgrind_version() is None:
                print("== valgrind is not installed: instruction counters not run "
                      "(apt-get install valgrind)", file=sys.stderr, flush=True)
                status = status or 1
            else:
                register_counter_machine(args.counter_machine)
                status = run_commits(counters, args.counter_machine, COUNTER_BENCH) or status
    except MachineMismatch as error:
        print(f"benchmark_history: {error}", file=sys.stderr, flush=True)
        return 2
    if not args.no_publish:
        publish()
    return status


if __name__ == "__main__":
    sys.exit(main())
