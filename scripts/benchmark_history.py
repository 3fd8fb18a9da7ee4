"""The main job: benchmark the commits of main that have no results for this machine yet, publish
the dashboard (offline), and say how to open it.

Usage: python scripts/benchmark_history.py [--max-commits N] [--machine NAME] [--list] [--serve]

Which commits: the first-parent line of ``main`` (oldest first), keeping those on which the
``governance`` package exists and whose package differs from their parent's (a change under
``governance/`` or to ``pyproject.toml``). A commit that changes only tests, scripts, docs,
benchmarks or results installs the very same package as its parent, and asv always takes the
benchmark suite from the working tree, so its numbers would be its parent's again. Of those, the
ones without a result file for the machine are run, the newest ``--max-commits`` of them.
Results go to ``results/<machine>/`` under one stable machine name per
hardware class, never under the hostname.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MACHINE = "governance-2vcpu"
BRANCH = "main"
PACKAGE_PATHS = ("governance/", "pyproject.toml")
HASHFILE = ROOT / ".asv" / "pending-commits.txt"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def machine_name() -> str:
    """The stable machine name: ``$ASV_MACHINE`` or one name for this hardware class."""
    return os.environ.get("ASV_MACHINE", DEFAULT_MACHINE)


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
    folder = ROOT / "results" / machine
    if not folder.is_dir():
        return set()
    found = set()
    for path in folder.glob("*.json"):
        if path.name == "machine.json":
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if data.get("commit_hash"):
            found.add(data["commit_hash"][:8])
    return found


def register_machine(machine: str) -> None:
    """Record this machine's description (os, arch, cpu, cores, ram as asv detects them) under
    the stable name, in asv's machine file and in ``results/<machine>/machine.json``.

    ``asv machine --yes --machine NAME`` would store only the name: asv keeps just the values
    that differ from its detected defaults.
    """
    from asv.machine import Machine, MachineCollection

    info = {**Machine.get_defaults(), "machine": machine}
    MachineCollection.save(machine, info)
    folder = ROOT / "results" / machine
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "machine.json").write_text(json.dumps({**info, "version": 1}, indent=4) + "\n")


def run_commits(commits: list[str], machine: str) -> int:
    HASHFILE.parent.mkdir(exist_ok=True)
    HASHFILE.write_text("".join(f"{c}\n" for c in commits))
    print(f"== benchmarking {len(commits)} commit(s) on machine '{machine}'", flush=True)
    started = time.monotonic()
    status = subprocess.run(
        # --skip-existing runs, for each commit, only the benchmarks it has no result for: all of
        # them on a new commit, the ones added to the suite since on an older one (--fill).
        [sys.executable, "-m", "asv", "run", f"HASHFILE:{HASHFILE}", "--machine", machine,
         "--skip-existing", "--show-stderr"],
        cwd=ROOT).returncode
    print(f"== asv run finished in {time.monotonic() - started:.0f}s (exit {status})", flush=True)
    return status


def publish() -> None:
    print("== publishing the dashboard", flush=True)
    subprocess.run(["bash", str(ROOT / "scripts" / "publish.sh")], cwd=ROOT, check=True)


def serve(port: int) -> None:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(ROOT / "html"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"== serving the dashboard on http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-commits", type=int, default=30,
                        help="benchmark at most this many missing commits, newest first "
                             "(default 30)")
    parser.add_argument("--machine", default=machine_name(),
                        help=f"stable machine name (default $ASV_MACHINE or {DEFAULT_MACHINE})")
    parser.add_argument("--fill", action="store_true",
                        help="also run, on commits that have results, the benchmarks added to "
                             "the suite since they were benchmarked")
    parser.add_argument("--list", action="store_true",
                        help="only list the commits that would be benchmarked")
    parser.add_argument("--no-publish", action="store_true", help="skip publishing")
    parser.add_argument("--serve", action="store_true",
                        help="serve html/ on 127.0.0.1 after publishing")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    candidates = benchmarkable_commits()
    done = commits_with_results(args.machine)
    missing = [c for c in candidates if c[:8] not in done]
    selected = missing[-args.max_commits:] if args.max_commits > 0 else []
    if args.fill and args.max_commits > 0:
        selected = [c for c in candidates if c in selected or c[:8] in done]
    have = len(candidates) - len(missing)
    print(f"== {len(candidates)} benchmarkable commit(s) on {BRANCH}, {have} with results for "
          f"'{args.machine}', {len(missing)} missing, running {len(selected)}", flush=True)
    if args.list:
        for commit in selected:
            print(git("log", "-1", "--format=%h %ad %s", "--date=short", commit).strip())
        return 0

    status = 0
    if selected:
        register_machine(args.machine)
        status = run_commits(selected, args.machine)
    if not args.no_publish:
        publish()
        print("== open the dashboard: python -m http.server --bind 127.0.0.1 -d html 8080, "
              "then http://127.0.0.1:8080/", flush=True)
        if args.serve:
            serve(args.port)
    return status


if __name__ == "__main__":
    sys.exit(main())
