"""The data side of the dashboard's own pages (``scripts.dashboard_data`` and
``scripts.dashboard_pages``): what counts as a change, which accepted entry explains it, the
stages stacked, the latest values."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import dashboard_pages as pages
from scripts.dashboard_data import (
    TIMING_FACTOR,
    AcceptedChange,
    CommitResults,
    DashboardDataError,
    Measurement,
    Series,
    changes,
    commit_subjects,
    commits_between,
    expand_braces,
    kind_of,
    latest_point,
    load_accepted,
    match_accepted,
    moved,
    pattern_matches,
    stage_rows,
    unit_of,
)
from scripts.pr_gate import DEFAULT_FACTOR

ROOT = Path(__file__).resolve().parents[2]
E2E = "bench_orchestration.ExecuteApproved.time_matching_version"
COUNTER = "bench_orchestration.ExecuteApprovedInstructions.track_matching_version"
BYTES = "bench_lifecycle.LifecycleAllocatedBytes.track_approve_pending"


def _stats(low: float, high: float, repeat: int = 30) -> dict[str, float]:
    return {"ci_99_a": low, "ci_99_b": high, "q_25": low, "q_75": high, "number": 1,
            "repeat": repeat}


# --------------------------------------------------------------------------- kinds and units


def test_kinds_and_units_come_from_benchmarks_json_then_from_the_name() -> None:
    benchmarks = {BYTES: {"unit": "bytes"}, E2E: {"unit": "seconds"},
                  "bench_x.XAllocatedBlocks.track_y": {"unit": ""}}
    assert kind_of(COUNTER) == "counter"
    assert kind_of("bench_orchestration.ExecuteApprovedInstructionRatioToFloor.track_a") == \
        "counter"
    assert kind_of(BYTES) == "allocation"
    assert kind_of("bench_growth.StoreSizeWritesAllocatedBlocks.track_approve_pending(10)") == \
        "allocation"
    assert kind_of(E2E) == "timing"
    assert kind_of("bench_orchestration.ExecuteApprovedRatioToFloor.track_a") == "timing"
    assert unit_of(BYTES, benchmarks) == "bytes"
    assert unit_of("bench_x.XAllocatedBlocks.track_y", benchmarks) == "blocks"  # empty unit
    assert unit_of("bench_x.Memory.track_peak_bytes(10)", {}) == "bytes"
    assert unit_of("bench_x.Memory.track_live_blocks", {}) == "blocks"
    assert unit_of(COUNTER, {}) == "instructions"
    assert unit_of("bench_x.Y.time_z", {}) == "seconds"


def test_units_of_the_committed_results_are_bytes_and_blocks_for_the_twins() -> None:
    benchmarks = json.loads((ROOT / "results" / "benchmarks.json").read_text())
    twins = [name for name in benchmarks if kind_of(name) == "allocation"]
    assert twins
    assert {unit_of(name, benchmarks) for name in twins} == {"bytes", "blocks"}


def test_figures_carry_their_units() -> None:
    assert pages.format_value(6.5e-05, "seconds") == "65 us"
    assert pages.format_value(2282, "bytes") == "2,282 bytes"
    assert pages.format_value(60, "blocks") == "60 blocks"
    assert pages.format_value(340453, "instructions") == "340,453 instructions"
    assert pages.format_value(18.81, "ratio") == "18.81x"
    assert pages.format_value(None, "bytes") == "n/a"


# --------------------------------------------------------------------------- what moved


def test_counters_move_beyond_their_spread_and_allocations_on_any_change() -> None:
    base = Measurement(100_000.0)
    assert moved("counter", base, Measurement(100_133.0)) is None  # 0.133 %: the spread
    assert moved("counter", base, Measurement(100_134.0)) == "worse"
    assert moved("counter", base, Measurement(99_800.0)) == "better"
    assert moved("allocation", Measurement(2282.0), Measurement(2282.0)) is None
    assert moved("allocation", Measurement(2282.0), Measurement(2283.0)) == "worse"
    assert moved("allocation", Measurement(60.0), Measurement(59.0)) == "better"
    assert moved("counter", base, Measurement(None)) is None


def test_timings_move_by_asvs_statistics_at_the_gates_factor() -> None:
    assert TIMING_FACTOR == DEFAULT_FACTOR == 2.0
    before = Measurement(10e-6, _stats(9.5e-6, 10.5e-6))
    # 2.2x with disjoint confidence intervals: worse.
    assert moved("timing", before, Measurement(22e-6, _stats(21.5e-6, 22.5e-6))) == "worse"
    # 2.2x, but the intervals overlap: not a change.
    assert moved("timing", before, Measurement(22e-6, _stats(9e-6, 40e-6))) is None
    # 1.8x, disjoint intervals: below the factor.
    assert moved("timing", before, Measurement(18e-6, _stats(17.5e-6, 18.5e-6))) is None
    assert moved("timing", before, Measurement(4e-6, _stats(3.5e-6, 4.5e-6))) == "better"
    # Without statistics, the factor alone decides.
    assert moved("timing", Measurement(1.0), Measurement(2.2)) == "worse"
    assert moved("timing", Measurement(1.0), Measurement(1.8)) is None


def _series(machine: str, rows: list[tuple[str, dict[str, float | None]]]) -> Series:
    return Series(machine, "env", [
        CommitResults(commit, {name: Measurement(value) for name, value in values.items()})
        for commit, values in rows])


def test_every_commit_is_compared_with_the_previous_benchmarked_one_newest_first() -> None:
    order = ["a" * 40, "b" * 40, "c" * 40, "d" * 40]
    a, b, c, d = order
    counters = _series("callgrind", [
        (a, {COUNTER: 1000.0}), (b, {COUNTER: 1100.0}), (d, {COUNTER: 1100.0})])
    timings = _series("vm", [(a, {BYTES: 10.0}), (c, {BYTES: 12.0}), (d, {BYTES: 12.0})])
    listed = changes([counters, timings], {}, order)
    assert [entry.commit for entry in listed] == [d, c, b, a]
    newest = listed[0]
    # The newest commit is listed although nothing moved there.
    assert newest.changes == [] and newest.previous == {"callgrind": b, "vm": c}
    at_b, at_c = listed[2], listed[1]
    assert [(ch.name, ch.direction, ch.before, ch.after, ch.previous) for ch in at_b.changes] \
        == [(COUNTER, "worse", 1000.0, 1100.0, a)]
    assert [(ch.machine, ch.name, ch.unit) for ch in at_c.changes] == [("vm", BYTES, "bytes")]
    assert listed[3].previous == {}


# --------------------------------------------------------------------------- accepted changes


def test_benchmark_patterns_expand_braces_wildcards_and_parameters() -> None:
    assert expand_braces("x.{a,b}_{c,d}") == ["x.a_c", "x.a_d", "x.b_c", "x.b_d"]
    pattern = "bench_lifecycle.LifecycleAllocated*.track_{approve,reject,cancel}_pending"
    assert pattern_matches(pattern, "bench_lifecycle.LifecycleAllocatedBytes.track_reject_pending")
    assert not pattern_matches(pattern, "bench_lifecycle.LifecycleAllocatedBytes.track_expire")
    # A pattern without parameters names the benchmark whatever its parameters.
    assert pattern_matches("bench_growth.StoreSizeQueries.time_*",
                           "bench_growth.StoreSizeQueries.time_pending_by_state_id(100000)")
    assert pattern_matches("bench_engine.SingleMutationThroughput.time_single_commit",
                           "bench_engine.SingleMutationThroughput.time_single_commit(1024)")
    # With parameters, only those.
    batch = "bench_engine.BatchMutationThroughput.time_batch_commit(*, 8)"
    assert pattern_matches(batch, "bench_engine.BatchMutationThroughput.time_batch_commit(32, 8)")
    assert not pattern_matches(batch,
                               "bench_engine.BatchMutationThroughput.time_batch_commit(32, 64)")
    assert pattern_matches("*Instructions.track_*", COUNTER)
    assert not pattern_matches("*Instructions.track_*", E2E)


def test_a_change_is_acknowledged_by_commit_and_pattern() -> None:
    entry = AcceptedChange(1, "c88a780", ("*Instructions.track_*",), "", "Correctness.")
    history = ["c67a7c00" + "0" * 32, "c88a7809" + "0" * 32, "e" * 40]
    assert match_accepted([entry], COUNTER, [history[1]]) is entry
    assert match_accepted([entry], E2E, [history[1]]) is None  # not named
    assert match_accepted([entry], COUNTER, [history[0]]) is None  # another commit
    # A change first seen at a later benchmarked commit may come from any commit since the
    # previous benchmarked one.
    assert commits_between(history, history[0], history[2]) == history[1:]
    assert match_accepted([entry], COUNTER, commits_between(history, history[0], history[2])) \
        is entry
    assert commits_between([], None, "f" * 40) == ["f" * 40]  # no git: the commit alone


def test_the_committed_accepted_changes_load(tmp_path: Path) -> None:
    entries = load_accepted(ROOT / "docs" / "accepted-changes.toml")
    assert entries and all(e.benchmarks and e.why.strip() for e in entries)
    assert entries[0].anchor == f"accepted-1-{entries[0].commit}"
    assert load_accepted(tmp_path / "missing.toml") == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[[change]]\ncommit = "c67a7c0"\nbenchmarks = []\nwhy = "x"\n')
    with pytest.raises(DashboardDataError, match=r"number 1 \(c67a7c0\): 'benchmarks'"):
        load_accepted(bad)
    bad.write_text('[[change]]\ncommit = "HEAD"\nbenchmarks = ["x"]\n')
    with pytest.raises(DashboardDataError, match="'commit' must be a hex hash prefix"):
        load_accepted(bad)


# --------------------------------------------------------------------------- stages


def test_stages_stack_under_each_scenario_and_what_remains_is_the_rest() -> None:
    values: dict[str, float | None] = {
        E2E: 60.0, "bench_resolution.ResolveAndStore.time_matching_version": 10.0,
        "bench_handoff.EngineHandoff.time_wrap_and_execute": 25.0,
        "bench_recording.OutcomeRecording.time_executed": 8.0,
        "bench_orchestration.ExecuteApprovedFloor.time_matching_version": 3.0,
        "bench_orchestration.ExecuteApprovedRatioToFloor.track_matching_version": 19.5,
        "bench_orchestration.ExecuteApproved.time_rejected_as_stale": 15.0,
        "bench_resolution.ResolveAndStore.time_rejected_as_stale": 9.0,
        "bench_recording.OutcomeRecording.time_rejected_as_stale": 2.0,
    }
    series = _series("vm", [("a" * 40, values), ("b" * 40, {E2E: 50.0})])
    first, second = stage_rows(series, "timings")
    matching = first.scenarios["matching"]
    assert [label for label, _ in matching.stages] == ["resolution", "handoff", "recording"]
    assert matching.remains == 17.0 and matching.floor == 3.0 and matching.ratio == 19.5
    stale = first.scenarios["stale"]
    assert [label for label, _ in stale.stages] == ["resolution", "recording"]  # no engine
    assert stale.remains == 4.0
    assert first.scenarios["revalidated"].end_to_end is None
    # A commit lacking the stage benchmarks keeps its end to end, with nothing to subtract.
    assert second.scenarios["matching"].end_to_end == 50.0
    assert second.scenarios["matching"].remains is None

    counters = _series("callgrind", [("a" * 40, {
        COUNTER: 350_000.0, "bench_resolution.ResolveAndStoreInstructions.track_matching_version":
        53_000.0})])
    (row,) = stage_rows(counters, "counters")
    assert row.scenarios["matching"].end_to_end == 350_000.0
    assert row.scenarios["matching"].stages[0] == ("resolution", 53_000.0)


# --------------------------------------------------------------------------- asv's pages


def test_latest_point_skips_missing_values_and_reads_one_parameter() -> None:
    points = [[1, 5.0], [4, 7.0], [9, None]]
    assert latest_point(points, None) == (4, 7.0)
    params = [[1, [1.0, 2.0, 3.0]], [4, [1.5, None, 3.5]]]
    assert latest_point(params, 1) == (1, 2.0)
    assert latest_point(params, 2) == (4, 3.5)
    assert latest_point([], None) is None


def test_the_benchmark_list_gets_the_latest_result_not_the_fitted_level(tmp_path: Path) -> None:
    folder = tmp_path / "graphs" / "machine-x"
    folder.mkdir(parents=True)
    (folder / f"{E2E}.json").write_text(json.dumps([[1, 70e-6], [2, 40e-6], [3, 65e-6]]))
    (folder / "bench_g.S.time_q.json").write_text(json.dumps([[1, [1.0, 2.0]], [3, [None, 4.0]]]))
    fitted = [{"name": E2E, "idx": None, "last_rev": 3, "last_value": 41e-6, "last_err": 1e-6},
              {"name": "bench_g.S.time_q", "pretty_name": "bench_g.S.time_q(1)", "idx": 0,
               "last_rev": 3, "last_value": 1.1, "last_err": 0.1},
              {"name": "bench_g.S.time_q", "pretty_name": "bench_g.S.time_q(2)", "idx": 1,
               "last_rev": 3, "last_value": 3.0, "last_err": 0.1}]
    (folder / "summary.json").write_text(json.dumps(fitted))
    assert pages.fix_summaries(tmp_path) == 3
    rows = json.loads((folder / "summary.json").read_text())
    assert [(r["last_rev"], r["last_value"], r["last_err"]) for r in rows] == [
        (3, 65e-6, None), (1, 1.0, None), (3, 4.0, None)]
    assert pages.fix_summaries(tmp_path) == 0
    # With the result's own spread (half its 99 % interval) where asv stored one.
    seen: list[tuple[str, str, int]] = []

    def spread(machine: str, name: str, revision: int) -> float | None:
        seen.append((machine, name, revision))
        return 2e-6 if name == E2E else None

    pages.fix_summaries(tmp_path, spread)
    rows = json.loads((folder / "summary.json").read_text())
    assert [r["last_err"] for r in rows] == [2e-6, None, None]
    assert seen[0] == ("x", E2E, 3)


def test_commit_subjects_come_from_git_and_fall_back_to_the_hash(tmp_path: Path) -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()
    subject = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.strip()
    unknown = "0" * 40
    assert commit_subjects(ROOT, [head, unknown]) == {head: subject}
    assert commit_subjects(tmp_path, [head]) == {}  # not a repository
    site = pages.Site(tmp_path, {}, [head], 8, [], [], {}, [], "")
    assert site.title(head) == head[:8]
    assert site.commit_url(head) == f"changes.html#commit-{head[:8]}"
    site.repository_url = "https://example.org/governance"
    assert site.commit_url(head) == f"https://example.org/governance/commit/{head}"


def test_the_repository_url_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(pages.REPOSITORY_URL_ENV, raising=False)
    assert pages.read_repository_url({"repository_url": "https://example.org/g/"}) == \
        "https://example.org/g"
    assert pages.read_repository_url({}) == ""
    monkeypatch.setenv(pages.REPOSITORY_URL_ENV, "https://mirror.example.org/g")
    assert pages.read_repository_url({"repository_url": "https://example.org/g"}) == \
        "https://mirror.example.org/g"
    config = json.loads((ROOT / "asv.conf.json").read_text())
    assert "repository_url" in config


# --------------------------------------------------------------------------- pages


def _site(tmp_path: Path) -> pages.Site:
    order = ["a" * 40, "b" * 40]
    entry = AcceptedChange(1, "bbbbbbb", ("bench_orchestration.ExecuteApproved*.track_*",),
                           "figures", "Correctness, accepted. More text.")
    series = [_series("callgrind", [
        (order[0], {COUNTER: 1000.0, "bench_recording.OutcomeRecordingInstructions.track_x": 50.0,
                    "bench_resolution.ResolveAndStoreInstructions.track_y": 80.0}),
        (order[1], {COUNTER: 1100.0, "bench_recording.OutcomeRecordingInstructions.track_x": 60.0,
                    "bench_resolution.ResolveAndStoreInstructions.track_y": 70.0})])]
    return pages.Site(tmp_path, {}, order, 8, series, [entry], {order[1]: "Second <commit>"},
                      order, "", {"1": order[0], "2": order[1]})


def test_the_changes_page_marks_each_worse_figure_acknowledged_or_not(tmp_path: Path) -> None:
    site = _site(tmp_path)
    listed = changes(site.series, {}, site.order)
    flagged = [pages.Flagged("bench_recording.OutcomeRecordingInstructions.track_x", "callgrind",
                             site.order[1], site.order[0], 50.0, 60.0, None)]
    text = pages.changes_page(site, listed, flagged)
    assert text.index('id="commit-bbbbbbbb"') < text.index('id="commit-aaaaaaaa"')
    assert "Second &lt;commit&gt;" in text  # subjects are escaped
    rows = {line.split('data-name="')[1].split('"')[0]: line
            for line in text.splitlines() if "data-name=" in line}
    assert 'class="worse acknowledged"' in rows[COUNTER]
    assert 'href="#accepted-1-bbbbbbb">Correctness, accepted.</a>' in rows[COUNTER]
    recording = rows["bench_recording.OutcomeRecordingInstructions.track_x"]
    assert 'class="worse unexplained"' in recording and "(on the regressions page)" in recording
    assert 'class="better"' in rows["bench_resolution.ResolveAndStoreInstructions.track_y"]
    assert 'data-flagged="1" data-acknowledged="0"' in text
    assert 'id="accepted-1-bbbbbbb"' in text


def test_index_html_gets_the_pages_and_the_extras_once(tmp_path: Path) -> None:
    import asv

    shutil.copyfile(Path(asv.__file__).parent / "www" / "index.html", tmp_path / "index.html")
    pages.inject_into_index(tmp_path)
    once = (tmp_path / "index.html").read_text()
    pages.inject_into_index(tmp_path)
    assert (tmp_path / "index.html").read_text() == once
    assert once.count('href="stages.html"') == once.count('href="changes.html"') == 1
    assert once.count(f'<script src="{pages.EXTRAS_JS}"></script>') == 1
    site = _site(tmp_path)
    flagged = [pages.Flagged(COUNTER, "callgrind", site.order[1], site.order[0], 1.0, 2.0,
                             site.accepted[0])]
    script = pages.extras_script(site, flagged)
    data = json.loads(script.split("var DATA = ", 1)[1].split(";\n", 1)[0])
    assert data["marks"] == {f"{COUNTER} bbbbbbbb": {
        "status": "acknowledged", "reason": "Correctness, accepted.",
        "href": "changes.html#accepted-1-bbbbbbb"}}
    assert (data["flagged"], data["acknowledged"]) == (1, 1)
