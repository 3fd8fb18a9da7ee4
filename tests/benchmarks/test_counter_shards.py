"""Counting a backlog in shards (``scripts/counter_shards.py``): the split, the merge and its
refusals on made-up result files (no valgrind), a published graph that stays one series when
shards ran on different kernels, and, marked slow, the whole path in a temporary clone: two
commits counted as two shards into separate folders, merged into the clone's ``results/``,
published, one series on the dashboard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.callgrind import counter_machine_name, valgrind_version
from scripts import benchmark_history, counter_shards

ROOT = Path(__file__).resolve().parents[2]

MACHINE = "callgrind-cpython3.11.7-x86_64-valgrind3.19.0"
ENV = "virtualenv-py3.11-pydantic2.13.5"
BENCH = "bench_recording.OutcomeRecordingInstructions.track_executed"
DESCRIPTION = {
    "arch": "x86_64",
    "cpu": "callgrind (valgrind 3.19.0): CPython 3.11.7 [GCC 12.2.0], glibc 2.36",
    "machine": MACHINE,
    "num_cpu": "1",
    "os": "Linux 6.8.0-1017-azure",
    "ram": "",
}
BENCHMARK_ENTRY = {
    "code": "def track_executed(self, counts): ...", "name": BENCH, "param_names": [],
    "params": [], "timeout": 660.0, "type": "track", "unit": "instructions", "version": "1",
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=shard-test", "-c", "user.email=shard@localhost",
                           *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def write_shard(folder: Path, commits: dict[str, float], *, machine: dict[str, str] | None = None,
                result_os: str | None = None) -> Path:
    """A shard's results folder as ``run`` leaves it: benchmarks.json, machine.json and one
    result file per commit with the counter's value."""
    machine = {**DESCRIPTION, **(machine or {})}
    machine_dir = folder / MACHINE
    machine_dir.mkdir(parents=True, exist_ok=True)
    (machine_dir / "machine.json").write_text(json.dumps({**machine, "version": 1}, indent=4))
    for commit, value in commits.items():
        params = {**machine, "python": "3.11", "pydantic": "2.13.5"}
        if result_os is not None:
            params["os"] = result_os
        result = {
            "commit_hash": commit, "env_name": ENV, "date": 1795662949000, "params": params,
            "python": "3.11", "requirements": {"pydantic": "2.13.5"}, "env_vars": {},
            "result_columns": ["result", "params", "version", "started_at", "duration"],
            "results": {BENCH: [[value], [], "1", 1796017052855, 0.13]},
            "durations": {}, "version": 2,
        }
        (machine_dir / f"{commit[:8]}-{ENV}.json").write_text(json.dumps(result))
    (folder / "benchmarks.json").write_text(json.dumps({BENCH: BENCHMARK_ENTRY, "version": 2}))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def two_commits() -> list[str]:
    """Two benchmarkable commits of main, oldest first (real ones: publish needs them)."""
    commits = benchmark_history.benchmarkable_commits()
    assert len(commits) >= 2
    return commits[-2:]


# -- plan -----------------------------------------------------------------------------------

@pytest.mark.parametrize("count,shards,sizes", [
    (7, 3, [3, 2, 2]),
    (6, 3, [2, 2, 2]),
    (2, 5, [1, 1]),
    (1, 1, [1]),
    (0, 4, []),
    (10, 1, [10]),
])
def test_split_is_contiguous_balanced_and_never_empty(count: int, shards: int,
                                                      sizes: list[int]) -> None:
    commits = [f"{i:040x}" for i in range(count)]
    chunks = counter_shards.split(commits, shards)
    assert [len(chunk) for chunk in chunks] == sizes
    assert [c for chunk in chunks for c in chunk] == commits


def test_split_needs_a_shard() -> None:
    with pytest.raises(ValueError):
        counter_shards.split(["a" * 40], 0)


def test_plan_leaves_out_commits_with_counter_results(monkeypatch: pytest.MonkeyPatch) -> None:
    history = benchmark_history
    commits = [f"{i:x}" * 40 for i in range(1, 8)]
    seen: list[str] = []

    def with_results(machine: str) -> set[str]:
        seen.append(machine)
        return {commits[1][:8], commits[4][:8]}

    monkeypatch.setattr(history, "benchmarkable_commits", lambda: commits)
    monkeypatch.setattr(history, "commits_with_results", with_results)
    monkeypatch.setattr(history, "counter_machine", lambda: MACHINE)
    shards = counter_shards.plan(2)
    assert seen == [MACHINE]
    assert shards == [[commits[0], commits[2], commits[3]], [commits[5], commits[6]]]
    assert counter_shards.plan(3, max_commits=2) == [[commits[5]], [commits[6]]]

    monkeypatch.setattr(history, "commits_with_results", lambda machine: {c[:8] for c in commits})
    assert counter_shards.plan(4) == []


def test_plan_prints_the_matrix_as_json(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    history = benchmark_history
    monkeypatch.setattr(history, "benchmarkable_commits", lambda: ["a" * 40, "b" * 40])
    monkeypatch.setattr(history, "commits_with_results", lambda machine: set())
    monkeypatch.setattr(history, "counter_machine", lambda: MACHINE)
    assert counter_shards.main(["plan", "--shards", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == [["a" * 40], ["b" * 40]]


def test_run_refuses_what_is_not_a_commit_or_a_shard_name() -> None:
    with pytest.raises(ValueError, match="not a commit hash"):
        counter_shards.full_hashes(["--all"])
    with pytest.raises(ValueError, match="shard name"):
        counter_shards.run_shard(["a" * 40], "../results")


# -- merge ----------------------------------------------------------------------------------

def test_merge_copies_each_shard_and_unions_benchmarks(tmp_path: Path) -> None:
    a, b = "1" * 40, "2" * 40
    results = tmp_path / "results"
    (results / "other-machine").mkdir(parents=True)
    (results / "other-machine" / "machine.json").write_text("{}")
    (results / "benchmarks.json").write_text(json.dumps(
        {"bench_x.Timing.time_x": {"name": "bench_x.Timing.time_x"}, "version": 2}))
    shard0 = write_shard(tmp_path / "shard-0" / "results", {a: 60213.0})
    shard1 = write_shard(tmp_path / "shard-1", {b: 63224.0})

    report = counter_shards.merge([tmp_path / "shard-0", shard1], results)
    assert sorted(p.name for p in report.written) == [f"{a[:8]}-{ENV}.json",
                                                      f"{b[:8]}-{ENV}.json"]
    for shard, commit in ((shard0, a), (shard1, b)):
        name = f"{MACHINE}/{commit[:8]}-{ENV}.json"
        assert (results / name).read_bytes() == (shard / name).read_bytes()
    assert json.loads((results / MACHINE / "machine.json").read_text())["os"] == DESCRIPTION["os"]
    merged = json.loads((results / "benchmarks.json").read_text())
    assert set(merged) == {"bench_x.Timing.time_x", BENCH, "version"}
    assert report.benchmarks_added == 1

    before = snapshot(results)
    again = counter_shards.merge([shard0, shard1], results)
    assert again.written == [] and len(again.already_present) == 2
    assert snapshot(results) == before


def test_merge_refuses_other_results_for_a_commit_and_writes_nothing(tmp_path: Path) -> None:
    a, b = "1" * 40, "2" * 40
    results = write_shard(tmp_path / "results", {a: 60213.0})
    before = snapshot(results)
    clash = write_shard(tmp_path / "shard-0", {a: 61000.0, b: 63224.0})
    with pytest.raises(counter_shards.MergeConflict) as refused:
        counter_shards.merge([clash], results)
    assert len(refused.value.conflicts) == 1
    assert f"already holds other results for commit {a[:8]}" in refused.value.conflicts[0]
    assert snapshot(results) == before  # b was not merged either

    assert counter_shards.main(["merge", str(clash), "--results-dir", str(results)]) == 1
    assert snapshot(results) == before


def test_merge_refuses_two_shards_that_disagree(tmp_path: Path) -> None:
    a = "1" * 40
    results = tmp_path / "results"
    shard0 = write_shard(tmp_path / "shard-0", {a: 60213.0})
    shard1 = write_shard(tmp_path / "shard-1", {a: 60999.0})
    with pytest.raises(counter_shards.MergeConflict, match="two shards counted commit 11111111"):
        counter_shards.merge([shard0, shard1], results)
    assert not results.exists()


def test_merge_refuses_counts_of_another_interpreter_build(tmp_path: Path) -> None:
    results = write_shard(tmp_path / "results", {"1" * 40: 60213.0})
    other = write_shard(tmp_path / "shard-0", {"2" * 40: 60300.0},
                        machine={"cpu": DESCRIPTION["cpu"].replace("glibc 2.36", "glibc 2.39")})
    with pytest.raises(counter_shards.MergeConflict, match="in cpu"):
        counter_shards.merge([other], results)


def test_merge_aligns_the_kernel_release_to_the_machine(tmp_path: Path) -> None:
    a, b = "1" * 40, "2" * 40
    results = tmp_path / "results"
    shard0 = write_shard(tmp_path / "shard-0", {a: 60213.0})
    shard1 = write_shard(tmp_path / "shard-1", {b: 60230.0},
                         machine={"os": "Linux 6.11.0-1018-azure"})
    report = counter_shards.merge([shard0, shard1], results)
    assert [p.name for p in report.kernel_aligned] == [f"{b[:8]}-{ENV}.json"]
    for commit in (a, b):
        data = json.loads((results / MACHINE / f"{commit[:8]}-{ENV}.json").read_text())
        assert data["params"]["os"] == DESCRIPTION["os"]
        assert data["results"][BENCH][0] == [60213.0 if commit == a else 60230.0]


def publish(results: Path, html: Path, repo: Path) -> None:
    """``asv publish`` of ``results`` into ``html`` with the repository's configuration, less
    the offline-dashboard plugin (it needs npm; tests/dashboard covers it)."""
    config = json.loads((repo / "asv.conf.json").read_text())
    config.pop("plugins", None)
    config.update(repo=str(repo), results_dir=str(results), html_dir=str(html),
                  benchmark_dir=str(repo / "benchmarks"))
    path = html.parent / "publish.asv.conf.json"
    path.write_text(json.dumps(config))
    subprocess.run([sys.executable, "-m", "asv", "publish", "--config", str(path)], cwd=repo,
                   check=True, capture_output=True, text=True)


def graphs_of(html: Path, machine: str, benchmark: str) -> list[Path]:
    return sorted(p for p in (html / "graphs").rglob(f"{benchmark}.json")
                  if f"machine-{machine}" in p.parts)


def commits_in(graph: Path, html: Path) -> set[str]:
    revisions = json.loads((html / "index.json").read_text())["revision_to_hash"]
    return {revisions[str(point[0])] for point in json.loads(graph.read_text())
            if point[1] is not None}


def test_shards_from_two_kernels_publish_as_one_series(tmp_path: Path,
                                                       two_commits: list[str]) -> None:
    old, new = two_commits
    results = tmp_path / "results"
    shard0 = write_shard(tmp_path / "shard-0", {old: 60213.0})
    shard1 = write_shard(tmp_path / "shard-1", {new: 60230.0},
                         machine={"os": "Linux 6.11.0-1018-azure"})
    counter_shards.merge([shard0, shard1], results)
    publish(results, tmp_path / "html", ROOT)
    graphs = graphs_of(tmp_path / "html", MACHINE, BENCH)
    assert len(graphs) == 1, graphs
    assert commits_in(graphs[0], tmp_path / "html") == {old, new}


# -- the whole path, with valgrind --------------------------------------------------------------

@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clone of the committed history with this working tree's scripts, main at HEAD."""
    path = tmp_path_factory.mktemp("shards") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    _git(path, "checkout", "-q", _git(ROOT, "rev-parse", "HEAD"))
    _git(path, "checkout", "-q", "-B", "main")
    for script in (ROOT / "scripts").glob("*.py"):
        (path / "scripts" / script.name).write_bytes(script.read_bytes())
    # The committed history already holds counts: the clone starts without them, as a
    # repository with a backlog does.
    shutil.rmtree(path / "results" / counter_machine_name(), ignore_errors=True)
    yield path


@pytest.mark.slow
@pytest.mark.skipif(valgrind_version() is None, reason="needs valgrind")
def test_two_shards_counted_apart_merge_into_one_published_series(clone: Path,
                                                                  tmp_path: Path) -> None:
    # A home of its own: asv's machine file, written by the counter machine's registration.
    env = {**os.environ, "HOME": str(tmp_path / "home"),
           "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR",
                                           str(Path.home() / ".cache" / "pip"))}
    script = [sys.executable, "-m", "scripts.counter_shards"]
    plan = json.loads(subprocess.run([*script, "plan", "--shards", "2", "--max-commits", "2"],
                                     cwd=clone, env=env, check=True, capture_output=True,
                                     text=True).stdout)
    # The clone has no counter results: its two newest benchmarkable commits, one per shard.
    assert [len(shard) for shard in plan] == [1, 1]
    two_commits = [shard[0] for shard in plan]

    folders = []
    for index, commits in enumerate(plan):
        done = subprocess.run([*script, "run", "--commits", ",".join(commits),
                               "--name", f"shard-{index}"], cwd=clone, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        folder = Path(done.stdout.strip().splitlines()[-1])
        assert folder == clone / ".asv" / f"shard-{index}" / "results"
        counted = [p.name for p in folder.rglob("*.json")
                   if p.name not in ("machine.json", "benchmarks.json")]
        assert counted == [f"{commits[0][:8]}-{ENV}.json"]  # only its own commit
        folders.append(folder)

    merged = subprocess.run([*script, "merge", *map(str, folders)], cwd=clone, env=env,
                            capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert "merged 2 result file(s)" in merged.stdout
    machine = benchmark_history.counter_machine()
    assert sorted(p.name[:8] for p in (clone / "results" / machine).glob(f"*-{ENV}.json")) == \
        sorted(c[:8] for c in two_commits)

    html = tmp_path / "html"
    publish(clone / "results", html, clone)
    graphs = graphs_of(html, machine, BENCH)
    assert len(graphs) == 1, graphs
    assert commits_in(graphs[0], html) == set(two_commits)
