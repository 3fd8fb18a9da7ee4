"""The timings' machine name follows the hardware (``scripts/machines.py``): the hardware class of
the committed history keeps ``governance-2vcpu``, other hardware gets a series of its own, and a
name recorded with other hardware is refused, by the main job and the PR gate alike, before
anything is written. The host's facts are made up here; only the last test runs on this host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import benchmark_history, machines, pr_gate
from scripts.machines import Hardware, MachineMismatch, machine_name

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
HISTORY = "governance-2vcpu"
RECORDED = json.loads((RESULTS / HISTORY / "machine.json").read_text())

# The committed series' hardware after a reboot: another kernel build, a few hundred KB less.
SAME_CLASS = {"os": "Linux 6.18.99-other-build", "arch": RECORDED["arch"],
              "cpu": RECORDED["cpu"], "num_cpu": RECORDED["num_cpu"],
              "ram": str(int(RECORDED["ram"]) - 442_368)}
LAPTOP = {"os": "Linux 6.8.0-45-generic", "arch": "x86_64",
          "cpu": "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "num_cpu": "8",
          "ram": str(16 * 2**30 - 300 * 2**20)}
LAPTOP_NAME = "11th-gen-intel-core-i7-1165g7-8cpu-16gib"


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ``$ASV_MACHINE`` from the caller's shell, and asv's machine file in a home of the
    test's own."""
    monkeypatch.delenv("ASV_MACHINE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def on_host(monkeypatch: pytest.MonkeyPatch, description: dict[str, str]) -> None:
    monkeypatch.setattr(machines, "host_description", lambda: dict(description))


def copy_of_results(tmp_path: Path) -> Path:
    """A results folder holding the committed series' machine.json (and no result)."""
    results = tmp_path / "results"
    (results / HISTORY).mkdir(parents=True)
    shutil.copy(RESULTS / HISTORY / "machine.json", results / HISTORY / "machine.json")
    return results


def test_the_committed_hardware_class_keeps_its_series_name() -> None:
    assert machine_name(host=SAME_CLASS) == HISTORY


def test_other_hardware_gets_a_name_derived_from_it() -> None:
    assert machine_name(host=LAPTOP) == LAPTOP_NAME


@pytest.mark.parametrize("cpu,arch,cores,gib,name", [
    ("AMD EPYC", "x86_64", 2, 24, "amd-epyc-2cpu-24gib"),
    ("AMD EPYC 7763 64-Core Processor", "x86_64", 4, 16, "amd-epyc-7763-64-core-4cpu-16gib"),
    ("Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz", "x86_64", 2, 7,
     "intel-xeon-e5-2673-v4-2cpu-7gib"),
    ("Apple M2", "arm64", 8, 16, "apple-m2-8cpu-16gib"),
    ("", "aarch64", 4, 8, "aarch64-4cpu-8gib"),
])
def test_the_derived_name_is_cpu_model_cores_and_memory(cpu: str, arch: str, cores: int,
                                                        gib: int, name: str) -> None:
    assert Hardware(arch, cpu, cores, gib).derived_name() == name


def test_memory_is_compared_in_whole_gib() -> None:
    base = Hardware.of(LAPTOP)
    assert Hardware.of({**LAPTOP, "ram": str(16 * 2**30 + 200 * 2**20)}) == base
    assert Hardware.of({**LAPTOP, "ram": str(32 * 2**30)}) != base


def test_asv_machine_naming_a_series_of_other_hardware_is_refused_with_the_facts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASV_MACHINE", HISTORY)
    with pytest.raises(MachineMismatch) as refused:
        machine_name(host=LAPTOP)
    message = str(refused.value)
    assert f"machine '{HISTORY}'" in message
    assert "cpu 'AMD EPYC' recorded, '11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz' here" \
        in message
    assert "cores 2 recorded, 8 here" in message
    assert "memory GiB 24 recorded, 16 here" in message
    assert "architecture" not in message  # the same on both
    assert f"'{LAPTOP_NAME}'" in message  # the series this host writes to without the override
    assert refused.value.machine == HISTORY and len(refused.value.differences) == 3


def test_asv_machine_is_taken_when_new_or_recorded_with_this_hardware(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASV_MACHINE", "my-laptop")
    assert machine_name(host=LAPTOP) == "my-laptop"
    monkeypatch.setenv("ASV_MACHINE", HISTORY)
    assert machine_name(host=SAME_CLASS) == HISTORY
    assert machine_name("given-name", host=SAME_CLASS) == "given-name"  # --machine first


def test_of_several_series_of_this_hardware_the_one_with_most_results_is_taken(
    tmp_path: Path,
) -> None:
    results = copy_of_results(tmp_path)
    for name, count in (("another-name", 2), ("b-name", 3), ("a-name", 3)):
        (results / name).mkdir()
        (results / name / "machine.json").write_text(
            json.dumps({**SAME_CLASS, "machine": name, "version": 1}))
        for index in range(count):
            (results / name / f"{index:08x}-env.json").write_text("{}")
    assert machine_name(results_dir=results, host=SAME_CLASS) == "a-name"
    assert machine_name(results_dir=results, host=LAPTOP) == LAPTOP_NAME


def test_registering_a_laptop_writes_a_series_of_its_own_and_leaves_the_history_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    results = copy_of_results(tmp_path)
    history_file = results / HISTORY / "machine.json"
    before = history_file.read_bytes()
    on_host(monkeypatch, LAPTOP)

    name = machine_name(results_dir=results)
    benchmark_history.register_machine(name, results)

    assert name == LAPTOP_NAME
    written = json.loads((results / name / "machine.json").read_text())
    assert written == {**LAPTOP, "machine": LAPTOP_NAME, "version": 1}
    assert history_file.read_bytes() == before
    home = json.loads((tmp_path / "home" / ".asv-machine.json").read_text())
    assert home[LAPTOP_NAME]["cpu"] == LAPTOP["cpu"]


def test_registering_under_a_series_of_other_hardware_is_refused_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    results = copy_of_results(tmp_path)
    before = (results / HISTORY / "machine.json").read_bytes()
    on_host(monkeypatch, LAPTOP)

    with pytest.raises(MachineMismatch, match="cores 2 recorded, 8 here"):
        benchmark_history.register_machine(HISTORY, results)
    assert (results / HISTORY / "machine.json").read_bytes() == before
    assert not (tmp_path / "home" / ".asv-machine.json").exists()


def test_registering_the_same_class_keeps_the_recorded_description(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Another kernel build or a little less memory is not another machine: asv draws one
    series per description, so the recorded one stays."""
    results = copy_of_results(tmp_path)
    before = json.loads((results / HISTORY / "machine.json").read_text())
    on_host(monkeypatch, SAME_CLASS)

    benchmark_history.register_machine(HISTORY, results)

    assert json.loads((results / HISTORY / "machine.json").read_text()) == before
    home = json.loads((tmp_path / "home" / ".asv-machine.json").read_text())
    assert home[HISTORY]["os"] == RECORDED["os"]


def _no_git_work() -> list[str]:
    raise AssertionError("the machine name is checked before any commit is looked at")


def test_the_main_job_refuses_before_anything_and_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    on_host(monkeypatch, LAPTOP)
    monkeypatch.setattr(benchmark_history, "benchmarkable_commits", _no_git_work)
    monkeypatch.setenv("ASV_MACHINE", HISTORY)

    assert benchmark_history.main([]) == 2
    error = capsys.readouterr().err
    assert f"machine '{HISTORY}'" in error and "cores 2 recorded, 8 here" in error

    monkeypatch.delenv("ASV_MACHINE")
    assert benchmark_history.main(["--machine", HISTORY, "--list"]) == 2


def test_the_main_job_lists_under_the_laptops_own_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    on_host(monkeypatch, LAPTOP)
    head = benchmark_history.git("rev-parse", "HEAD").strip()
    monkeypatch.setattr(benchmark_history, "benchmarkable_commits", lambda: [head])

    assert benchmark_history.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert f"0 with results for '{LAPTOP_NAME}', 1 missing" in out
    assert f"'{HISTORY}'" not in out


def test_the_pr_gate_refuses_before_running_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    on_host(monkeypatch, LAPTOP)
    monkeypatch.setattr(pr_gate, "rev_parse", lambda ref: _no_git_work())
    summary = tmp_path / "verdict.json"

    assert pr_gate.main(["main", "HEAD", "--machine", HISTORY,
                         "--summary-json", str(summary)]) == 2
    assert f"machine '{HISTORY}'" in capsys.readouterr().err
    assert not summary.exists()


def test_the_command_refuses_a_counter_machine_name_for_timings(tmp_path: Path) -> None:
    """On this host, unpatched: the instruction counters' machine is recorded with a counting
    build for its cpu, which no host's hardware matches."""
    counter = next(path.parent.name for path in RESULTS.glob("callgrind-*/machine.json"))
    env = {**os.environ, "ASV_MACHINE": counter, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "scripts.benchmark_history", "--list"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"machine '{counter}'" in done.stderr
    assert "cpu 'callgrind (valgrind" in done.stderr
    assert done.stdout == ""
