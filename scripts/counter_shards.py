"""Count a backlog of commits in parallel: split the commits that lack instruction counts into
shards, count each shard into a folder of its own, merge the shards into ``results/``.

Usage:
    python -m scripts.counter_shards plan --shards N [--max-commits M]
    python -m scripts.counter_shards run --commits SHA[,SHA...] --name shard-0
    python -m scripts.counter_shards merge DIR [DIR...] [--results-dir results]

Instruction counts do not depend on how fast or busy the host is, only on what the counter
machine's name and description record (interpreter build, architecture, glibc, valgrind), so
the commits of a backlog can be counted on as many machines of one kind as there are shards and
still form one series. ``.github/workflows/counter-backfill.yml`` runs ``plan`` in one job,
``run`` in one matrix job per shard, and ``merge`` then ``scripts/publish.sh`` in a final job.

- ``plan`` prints, as JSON, the shards of the matrix: a list of lists of full commit hashes,
  oldest first, in contiguous chunks whose sizes differ by at most one. The commits are
  ``benchmark_history.benchmarkable_commits()`` without those that already have a result file
  under the counter machine in ``results/``. No commit to count prints ``[]``.
- ``run`` counts the given commits (one valgrind process per commit, about 30-60 s each here)
  with a copy of ``asv.conf.json`` whose results go to ``.asv/<name>/results`` and prints that
  folder. Registering the counter machine also writes its ``machine.json`` into ``results/``
  (``benchmark_history.register_counter_machine``); result files go only to the shard's folder.
- ``merge`` copies each shard's result files (``<machine>/<commit>-<env>.json``) and
  ``machine.json`` into ``results/`` and merges ``benchmarks.json`` (the union of the benchmark
  entries). It refuses, writing nothing, when a result file for the same commit, environment
  and machine is already there with other content, or when two shards disagree.

One thing ``merge`` aligns instead of copying: the kernel release. asv draws one graph per
distinct set of result parameters, the machine's ``os`` among them, and the runners of one job
may boot different kernel releases; instructions counted in user space do not change with the
kernel, so a shard's results take the ``os`` recorded for their machine (in ``results/``, or by
the first shard) and land in the machine's one series. Any other difference in the machine's
description (architecture, the ``cpu`` field that names the interpreter, glibc and valgrind,
cores, memory) is a conflict: such counts do not compare.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.callgrind import valgrind_version
from scripts import benchmark_history
from scripts.asv_config import redirected_config
from scripts.machines import MachineMismatch

ROOT = Path(__file__).resolve().parents[1]

MACHINE_FILE = "machine.json"
BENCHMARKS_FILE = "benchmarks.json"
MACHINE_FIELDS = ("arch", "cpu", "machine", "num_cpu", "os", "ram")
"""The machine description asv copies into every result file's ``params``."""
KERNEL_FIELDS = frozenset({"os"})
"""Description fields a count does not depend on, aligned by ``merge`` (see the module doc)."""
SHARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
COMMIT = re.compile(r"[0-9a-f]{7,40}")


# -- plan -----------------------------------------------------------------------------------

def split(commits: Sequence[str], shards: int) -> list[list[str]]:
    """``commits`` in order, cut into at most ``shards`` contiguous chunks whose sizes differ
    by at most one; never an empty chunk."""
    if shards < 1:
        raise ValueError("the number of shards must be at least 1")
    count = min(shards, len(commits))
    if count == 0:
        return []
    size, extra = divmod(len(commits), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(commits[start:end]))
        start = end
    return chunks


def commits_to_count(machine: str | None = None) -> list[str]:
    """Benchmarkable commits of main, oldest first, without a result file for the counter
    machine in ``results/``."""
    machine = machine or benchmark_history.counter_machine()
    done = benchmark_history.commits_with_results(machine)
    return [c for c in benchmark_history.benchmarkable_commits() if c[:8] not in done]


def plan(shards: int, max_commits: int = 0, machine: str | None = None) -> list[list[str]]:
    """The shards of the backlog; with ``max_commits``, of its newest ``max_commits``."""
    commits = commits_to_count(machine)
    if max_commits > 0:
        commits = commits[-max_commits:]
    return split(commits, shards)


# -- run ------------------------------------------------------------------------------------

def full_hashes(commits: Sequence[str]) -> list[str]:
    """Each commit, checked to be a hexadecimal hash, as git's full hash."""
    resolved = []
    for commit in commits:
        if not COMMIT.fullmatch(commit):
            raise ValueError(f"not a commit hash: {commit!r}")
        resolved.append(benchmark_history.git("rev-parse", "--verify", f"{commit}^{{commit}}")
                        .strip())
    return resolved


def run_shard(commits: Sequence[str], name: str) -> tuple[int, Path]:
    """Count ``commits`` under the counter machine into ``.asv/<name>/results``; return asv's
    exit status and that folder."""
    if not SHARD_NAME.fullmatch(name):
        raise ValueError(f"a shard name is letters, digits, '-', '_' and '.': {name!r}")
    if valgrind_version() is None:
        raise RuntimeError("instruction counters need valgrind (apt-get install valgrind)")
    hashes = full_hashes(commits)
    config = redirected_config(name)
    machine = benchmark_history.counter_machine()
    benchmark_history.register_counter_machine(machine)
    status = benchmark_history.run_commits(hashes, machine, benchmark_history.COUNTER_BENCH,
                                           config=config)
    return status, config.parent / "results"


# -- merge ----------------------------------------------------------------------------------

class MergeConflict(Exception):
    """Shards that cannot be merged as they are; nothing was written."""

    def __init__(self, conflicts: list[str]) -> None:
        super().__init__("\n".join(conflicts))
        self.conflicts = conflicts


@dataclass
class MergeReport:
    """What a merge wrote (or, with ``dry_run``, would write)."""

    written: list[Path] = field(default_factory=list)
    already_present: list[Path] = field(default_factory=list)
    kernel_aligned: list[Path] = field(default_factory=list)
    benchmarks_added: int = 0


def results_root(folder: Path) -> Path:
    """The folder that holds ``benchmarks.json`` and the machine folders: ``folder`` itself,
    or its ``results/`` (``.asv/shard-0`` names the shard as well as its results folder)."""
    nested = folder / "results"
    if not (folder / BENCHMARKS_FILE).is_file() and nested.is_dir():
        return nested
    return folder


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise MergeConflict([f"{path}: not JSON ({error})"]) from error


def _differences(a: dict[str, Any], b: dict[str, Any]) -> set[str]:
    return {key for key in MACHINE_FIELDS if a.get(key) != b.get(key)}


def merge(shards: Sequence[Path], results_dir: Path, *, dry_run: bool = False) -> MergeReport:
    """Merge the result folders ``shards`` into ``results_dir`` (see the module doc). Raises
    ``MergeConflict``, having written nothing, when the shards do not fit."""
    conflicts: list[str] = []
    report = MergeReport()
    machines: dict[str, dict[str, Any]] = {}  # machine name -> the description results take
    machine_sources: dict[str, Path] = {}
    writes: dict[Path, tuple[Any, Path | None]] = {}  # target -> (content, file to copy as is)
    write_sources: dict[Path, Path] = {}
    benchmarks: dict[str, Any] = {}
    benchmark_sources: dict[str, Path] = {}

    target_benchmarks = results_dir / BENCHMARKS_FILE
    existing_benchmarks = _load(target_benchmarks) if target_benchmarks.is_file() else {}

    roots = [results_root(Path(shard)) for shard in shards]
    for root in roots:
        if not root.is_dir():
            conflicts.append(f"{root}: no such folder")
            continue
        for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            name = machine_dir.name
            source = machine_dir / MACHINE_FILE
            if source.is_file():
                incoming = _load(source)
                reference = machines.get(name)
                if reference is None:
                    target = results_dir / name / MACHINE_FILE
                    reference = _load(target) if target.is_file() else incoming
                    machines[name] = reference
                    machine_sources[name] = target if target.is_file() else source
                    if not target.is_file():
                        writes[target] = (incoming, source)
                        write_sources[target] = source
                if _differences(reference, incoming) - KERNEL_FIELDS:
                    fields = ", ".join(sorted(_differences(reference, incoming)))
                    conflicts.append(f"{source}: machine {name!r} differs from "
                                     f"{machine_sources[name]} in {fields}; its counts do not "
                                     "compare with the ones there")
            elif name not in machines and (results_dir / name / MACHINE_FILE).is_file():
                machines[name] = _load(results_dir / name / MACHINE_FILE)
                machine_sources[name] = results_dir / name / MACHINE_FILE
            for result_file in sorted(machine_dir.glob("*.json")):
                if result_file.name == MACHINE_FILE:
                    continue
                _plan_result(result_file, name, machines, results_dir, writes, write_sources,
                             report, conflicts)
        shard_benchmarks = root / BENCHMARKS_FILE
        if shard_benchmarks.is_file():
            for key, entry in _load(shard_benchmarks).items():
                if key in benchmarks and benchmarks[key] != entry:
                    conflicts.append(f"{shard_benchmarks}: benchmark {key!r} differs from "
                                     f"{benchmark_sources[key]}: the shards ran different "
                                     "suites")
                benchmarks.setdefault(key, entry)
                benchmark_sources.setdefault(key, shard_benchmarks)

    if conflicts:
        raise MergeConflict(conflicts)

    if benchmarks:
        merged = {**existing_benchmarks, **benchmarks}
        report.benchmarks_added = len(set(benchmarks) - set(existing_benchmarks) - {"version"})
        if merged != existing_benchmarks:
            writes[target_benchmarks] = (merged, None)

    for target, (content, copy_from) in writes.items():
        if target.name != BENCHMARKS_FILE and target.name != MACHINE_FILE:
            report.written.append(target)
        if dry_run:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if copy_from is not None:
            shutil.copyfile(copy_from, target)
        elif target.name == BENCHMARKS_FILE:
            # As asv writes them: benchmarks.json indented and sorted, result files compact.
            target.write_text(json.dumps(content, indent=4, sort_keys=True), encoding="utf-8")
        else:
            target.write_text(json.dumps(content), encoding="utf-8")
    return report


def _plan_result(result_file: Path, machine: str, machines: dict[str, dict[str, Any]],
                 results_dir: Path, writes: dict[Path, tuple[Any, Path | None]],
                 write_sources: dict[Path, Path], report: MergeReport,
                 conflicts: list[str]) -> None:
    """Add one shard result file to the merge: aligned to its machine, checked against what is
    already in ``results_dir`` and in the other shards."""
    data = _load(result_file)
    params = data.get("params") if isinstance(data, dict) else None
    if not isinstance(params, dict) or not data.get("commit_hash"):
        conflicts.append(f"{result_file}: not an asv result file")
        return
    if params.get("machine") != machine:
        conflicts.append(f"{result_file}: results of machine {params.get('machine')!r} "
                         f"in the folder of {machine!r}")
        return
    target = results_dir / machine / result_file.name
    copy_from: Path | None = result_file
    reference = machines.get(machine)
    if reference is None:
        conflicts.append(f"{result_file}: no {MACHINE_FILE} for machine {machine!r} in the "
                         "shard or in the results folder")
        return
    differing = _differences(reference, params)
    if differing - KERNEL_FIELDS:
        conflicts.append(f"{result_file}: machine description differs from its machine.json in "
                         f"{', '.join(sorted(differing))}")
        return
    if differing:
        data = {**data, "params": {**params, **{k: reference.get(k) for k in differing}}}
        copy_from = None
        report.kernel_aligned.append(target)
    if target in writes:
        if writes[target][0] != data:
            conflicts.append(f"{result_file}: differs from {write_sources[target]} (two shards "
                             f"counted commit {data['commit_hash'][:8]})")
        return
    if target.is_file():
        if _load(target) != data:
            conflicts.append(f"{result_file}: {target} already holds other results for commit "
                             f"{data['commit_hash'][:8]} on {machine!r}; not overwritten")
        else:
            report.already_present.append(target)
        return
    writes[target] = (data, copy_from)
    write_sources[target] = result_file


# -- command line ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.counter_shards",
                                     description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan_parser = commands.add_parser("plan", help="print the shards as JSON")
    plan_parser.add_argument("--shards", type=int, required=True)
    plan_parser.add_argument("--max-commits", type=int, default=0,
                             help="only the newest N commits to count (default: all)")
    run_parser = commands.add_parser("run", help="count commits into .asv/<name>/results")
    run_parser.add_argument("--commits", required=True, help="comma-separated commit hashes")
    run_parser.add_argument("--name", required=True, help="the shard's name, e.g. shard-0")
    merge_parser = commands.add_parser("merge", help="merge shard results into results/")
    merge_parser.add_argument("shards", nargs="+", type=Path)
    merge_parser.add_argument("--results-dir", type=Path, default=ROOT / "results")
    merge_parser.add_argument("--dry-run", action="store_true",
                              help="check and report, write nothing")
    args = parser.parse_args(argv)

    if args.command == "plan":
        print(json.dumps(plan(args.shards, args.max_commits)))
        return 0
    if args.command == "run":
        commits = [c.strip() for c in args.commits.split(",") if c.strip()]
        try:
            status, folder = run_shard(commits, args.name)
        except (ValueError, RuntimeError, MachineMismatch,
                subprocess.CalledProcessError) as error:
            print(f"counter_shards run: {error}", file=sys.stderr)
            return 2
        print(f"== shard {args.name}: {len(commits)} commit(s), results in {folder}", flush=True)
        print(folder)
        return status
    try:
        report = merge(args.shards, args.results_dir, dry_run=args.dry_run)
    except MergeConflict as conflict:
        print("counter_shards merge: refused, nothing written:", file=sys.stderr)
        for line in conflict.conflicts:
            print(f"  {line}", file=sys.stderr)
        return 1
    verb = "would merge" if args.dry_run else "merged"
    print(f"== {verb} {len(report.written)} result file(s) into {args.results_dir} "
          f"({len(report.already_present)} already there, {len(report.kernel_aligned)} aligned "
          f"to their machine's kernel release, {report.benchmarks_added} benchmark(s) added "
          f"to {BENCHMARKS_FILE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
