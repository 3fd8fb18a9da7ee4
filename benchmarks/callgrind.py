"""Instruction counts: the deterministic twins of the governed-execution timings.

``instruction_counts`` is the ``setup_cache`` of every ``*Instructions`` benchmark class (the
stage modules share this one function object, so asv runs it once per commit). It starts one
child process of the benchmark environment's Python under valgrind's callgrind tool, and the
child counts the instructions of every scenario in ``COUNTED``:

- it builds ``WARMUP_CALLS + COUNTED_CALLS`` fresh fixtures of the scenario (the same builders
  the timing benchmarks use), runs the warm-up calls, turns the garbage collector off, and then
  runs the counted calls between two calls of ``os.getppid``;
- callgrind, started with ``--dump-before=getppid``, writes the instructions executed since the
  previous marker to a new numbered file at each marker, so one file holds exactly the counted
  calls of one scenario, and the files between them (fixtures, warm-up) are ignored.

The result is instructions per call: the section's count, less an empty section's (the markers'
own cost), divided by ``COUNTED_CALLS``. A count does not depend on how busy the machine is. It
does depend on the interpreter build, glibc, the pydantic-core wheel and the valgrind version;
the counter machine's name (``counter_machine_name``) records the ones that can be read here.
To keep the child's work identical from run to run, it fixes the hash seed and draws uuids from
a seeded generator (request ids and id prefixes are otherwise random strings).
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import importlib.util
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # pragma: no cover - outside an asv environment
    class SkipNotImplemented(NotImplementedError):  # type: ignore[no-redef]
        """Stands in for asv_runner's exception where asv_runner is not installed."""

COUNTED_CALLS = 40
"""Calls counted per scenario; per-call figures agree within 0.05 % between 100 and 200."""
WARMUP_CALLS = 5
"""Calls on throwaway fixtures before counting: first calls fill caches and allocate arenas."""
CHILD_TIMEOUT = 600.0
"""Seconds the valgrind child may take. It takes 30-90 s here; a loaded machine slows it."""

COUNTED: dict[str, tuple[str, str, tuple[Any, ...], tuple[str, ...]]] = {
    # counter key: (stage module, builder, builder arguments before g, API names it needs).
    # Append only: a key names one series of the history.
    "ExecuteApproved.matching_version": (
        "bench_orchestration", "_real", ("matching_version",), ()),
    "ExecuteApproved.rejected_as_stale": (
        "bench_orchestration", "_real", ("rejected_as_stale",), ()),
    "ExecuteApproved.revalidated_then_executed": (
        "bench_orchestration", "_real", ("revalidated_then_executed",), ()),
    "ExecuteApprovedFloor.matching_version": (
        "bench_orchestration", "_floor_builder", ("matching_version",), ()),
    "ExecuteApprovedFloor.rejected_as_stale": (
        "bench_orchestration", "_floor_builder", ("rejected_as_stale",), ()),
    "ExecuteApprovedFloor.revalidated_then_executed": (
        "bench_orchestration", "_floor_builder", ("revalidated_then_executed",), ()),
    "ResolveAndStore.matching_version": (
        "bench_resolution", "_resolve", ("matching_version",), ()),
    "ResolveAndStore.rejected_as_stale": (
        "bench_resolution", "_resolve", ("rejected_as_stale",), ()),
    "ResolveAndStore.revalidation_required": (
        "bench_resolution", "_resolve", ("revalidation_required",), ()),
    "ResolveAndStore.renewed_approval_required": (
        "bench_resolution", "_resolve", ("renewed_approval_required",), ()),
    "EngineHandoff.wrap_and_execute": ("bench_handoff", "_handoff", (), ()),
    "OutcomeRecording.executed": (
        "bench_recording", "_recording_builder", ("executed",), ("OutcomeRecorder",)),
    "OutcomeRecording.rejected_as_stale": (
        "bench_recording", "_recording_builder", ("rejected_as_stale",), ("OutcomeRecorder",)),
    "OutcomeRecording.rejected_by_policy": (
        "bench_recording", "_recording_builder", ("rejected_by_policy",), ("OutcomeRecorder",)),
}

_EMPTY = "__empty_section__"
_MARK = os.getppid  # a libc call the measured code never makes


# -- the counter machine ---------------------------------------------------------------------

def valgrind_version() -> str | None:
    """``3.19.0`` for valgrind-3.19.0, or None when valgrind is not installed."""
    path = shutil.which("valgrind")
    if path is None:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    return out.removeprefix("valgrind-") or None


def counter_machine_name() -> str:
    """The asv machine name the counts are recorded under, e.g.
    ``callgrind-cpython3.11.7-x86_64-valgrind3.19.0``: what must match for counts to compare,
    as far as it can be read from names (this interpreter's implementation and version, the
    architecture, valgrind). The machine's ``machine.json`` records the interpreter's compiler
    and glibc too, and the main job refuses to count under a name recorded with others."""
    python = platform.python_implementation().lower() + platform.python_version()
    return f"callgrind-{python}-{platform.machine()}-valgrind{valgrind_version() or 'none'}"


# -- parent side: asv's setup_cache and the benchmark classes --------------------------------

def instruction_counts() -> dict[str, Any]:
    """Count every scenario of ``COUNTED`` in one valgrind process; return, per counter key,
    ``{"instructions": per_call}``, ``{"skipped": why}`` or ``{"error": traceback}``."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("instruction counters need valgrind (apt-get install valgrind)")
    return run_counter_child(Path(__file__).resolve().parent)


class InstructionCounter:
    """Base of the ``*Instructions`` benchmarks: ``track_<scenario>`` methods that read
    instructions per call of ``<family>.<scenario>`` from the counts ``setup_cache`` made.

    asv keys ``setup_cache`` by the function's module and line, so every subclass, in whatever
    stage module, shares this one: one valgrind process per commit counts them all. A scenario
    the commit cannot build is n/a; one that raised fails its benchmark with the traceback.
    """

    family = ""
    unit = "instructions"
    version = "1"
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0
    timeout = CHILD_TIMEOUT + 60

    def setup_cache(self) -> dict[str, Any]:
        return instruction_counts()

    setup_cache.timeout = CHILD_TIMEOUT + 60  # type: ignore[attr-defined]

    def count(self, counts: dict[str, Any], scenario: str, family: str | None = None) -> int:
        """Instructions per call of ``<family>.<scenario>`` (the class's family by default)."""
        key = f"{family or self.family}.{scenario}"
        entry = counts.get(key)
        if entry is None:
            raise SkipNotImplemented(f"{key} is not counted")
        if "skipped" in entry:
            raise SkipNotImplemented(entry["skipped"])
        if "error" in entry:
            raise RuntimeError(f"{key} raised under callgrind:\n{entry['error']}")
        return int(entry["instructions"])


STAGE = Path(tempfile.gettempdir()) / "governance-callgrind"
_PATH = os.pathsep.join(p for p in ("/usr/local/bin", "/usr/bin", "/bin")
                        if os.path.isdir(p))


def _default_signals() -> None:
    """Start the child with every signal at its default disposition, whatever the parent
    ignores (an interpreter whose SIGINT is ignored sets up less at start-up)."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                   signal.SIGPIPE, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
# The child starts from -c, not from the script's path: Python puts the real path of a script's
# folder at the head of sys.path, which differs from one checkout to another.
_BOOT = "import runpy, sys; sys.path.pop(0); runpy.run_path(sys.argv[1], run_name='__main__')"
"""Fixed paths the child runs from (see ``_staged``)."""


@contextmanager
def _staged(bench_dir: Path) -> Iterator[tuple[str, Path]]:
    """The interpreter, the suite and this file, seen through symlinks at fixed paths, one
    counting run at a time (a file lock).

    What the child sees shapes its heap: the interpreter's prefix, the suite's folder, its
    arguments and environment are strings it allocates and hashes at start-up, and a different
    heap layout moves later counts by a few hundred instructions per call. Through fixed paths,
    a clone of the repository elsewhere, or an asv environment in another folder, counts the
    same as the main job's.
    """
    STAGE.mkdir(exist_ok=True)
    with open(STAGE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        executable = Path(sys.executable)
        try:
            relative = executable.relative_to(sys.prefix)
        except ValueError:  # an interpreter outside its prefix: run it where it is
            relative = None
        for name, target in (("env", Path(sys.prefix)), ("benchmarks", bench_dir.resolve()),
                             ("callgrind.py", Path(__file__).resolve())):
            link, spare = STAGE / name, STAGE / f"{name}.new"
            spare.unlink(missing_ok=True)
            spare.symlink_to(target)
            os.replace(spare, link)
        python = str(STAGE / "env" / relative) if relative else str(executable)
        yield python, STAGE / "benchmarks"


def run_counter_child(bench_dir: Path, *, calls: int = COUNTED_CALLS,
                      warmup: int = WARMUP_CALLS, keys: list[str] | None = None
                      ) -> dict[str, Any]:
    """Run the counting child under callgrind and turn its dump files into per-call counts."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp, \
            _staged(bench_dir) as (python, suite):
        out, manifest = Path(tmp) / "callgrind.out", STAGE / "manifest.json"
        manifest.unlink(missing_ok=True)
        child = [python, "-c", _BOOT, str(STAGE / "callgrind.py"), "--child", str(suite),
                 str(manifest)]
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            "--dump-before=getppid", "--dump-instr=no", "--collect-jumps=no", "--quiet",
            *child, str(calls), str(warmup), *(keys or []),
        ]
        # A fixed, minimal environment: asv's variables (commit hashes, folders) would otherwise
        # differ from commit to commit and shift the heap.
        env = {"PATH": _PATH, "LC_ALL": "C.UTF-8",
               "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
               # pydantic would scan every installed distribution for plugins, in the order
               # the file system lists them, which a reinstall changes.
               "PYDANTIC_DISABLE_PLUGINS": "__all__",
               "PYTHONPYCACHEPREFIX": str(STAGE / "pycache")}
        # One call of every scenario without valgrind first, which leaves every module the
        # child imports compiled, through the fixed paths, in a cache of its own: a module
        # compiled during the counted run, or loaded from a cache written under another path,
        # would leave a different heap behind.
        subprocess.run([*child, "1", "0", *(keys or [])], env=env, cwd="/",
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=CHILD_TIMEOUT,
                       preexec_fn=_default_signals)
        manifest.unlink(missing_ok=True)
        # stdin too: the interpreter sets up its streams after what it is given (a terminal,
        # a pipe), and the heap follows.
        done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, env={**env, "PYTHONDONTWRITEBYTECODE": "1"}, cwd="/",
                              timeout=CHILD_TIMEOUT, preexec_fn=_default_signals)
        if done.returncode != 0 or not manifest.exists():
            raise RuntimeError(f"the callgrind child failed (exit {done.returncode}):\n"
                               f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        sections = json.loads(manifest.read_text())
        totals = {int(path.name.rsplit(".", 1)[1]): dump_instructions(path)
                  for path in Path(tmp).glob("callgrind.out.*")
                  if path.name.rsplit(".", 1)[1].isdigit()}
    return per_call_counts(sections, totals)


def dump_instructions(path: Path) -> int:
    """The ``Ir`` (instructions executed) total of one callgrind dump file."""
    events: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            values = line.split()[1:]
            return int(values[events.index("Ir") if "Ir" in events else 0])
    raise ValueError(f"{path} has no summary line")


def per_call_counts(sections: dict[str, Any], totals: dict[int, int]) -> dict[str, Any]:
    """Per-call instructions of each counted section, less the empty section's count."""
    empty = totals[sections[_EMPTY]["dump"]]
    counts: dict[str, Any] = {}
    for key, section in sections.items():
        if key == _EMPTY:
            continue
        if "dump" not in section:
            counts[key] = section
            continue
        counts[key] = {"instructions": round((totals[section["dump"]] - empty)
                                             / section["calls"])}
    return counts


# -- child side: runs under valgrind ---------------------------------------------------------

def _seed_uuids() -> None:
    """uuid4 from a seeded generator, so ids (and their hashes) are the same in every run."""
    rng = random.Random(20261130)
    uuid.uuid4 = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


def _load_suite(bench_dir: Path) -> None:
    """Import the benchmark folder as the package asv imports it as, without putting its
    parent (the repository, with a ``governance`` folder of the working tree) on sys.path."""
    name = bench_dir.name
    spec = importlib.util.spec_from_file_location(
        name, bench_dir / "__init__.py", submodule_search_locations=[str(bench_dir)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)


def _builder(bench_dir: Path, key: str) -> Callable[[], Callable[[], Any]]:
    module_name, attr, args, required = COUNTED[key]
    module = importlib.import_module(f"{bench_dir.name}.{module_name}")
    common = importlib.import_module(f"{bench_dir.name}.common")
    g = common.api(*required)  # NotImplementedError on a commit that lacks a name
    build = getattr(module, attr)
    return lambda: build(g, *args)


def count_in_child(bench_dir: Path, manifest: Path, calls: int, warmup: int,
                   keys: list[str]) -> None:
    """The child's work (see the module docstring); writes the dump number of each section."""
    _seed_uuids()
    _load_suite(bench_dir)
    sections: dict[str, Any] = {}
    dump = 0

    def mark() -> int:
        nonlocal dump
        _MARK()
        dump += 1
        return dump

    mark()  # interpreter start and imports
    for key in keys:
        try:
            build = _builder(bench_dir, key)
            ops = [build() for _ in range(warmup + calls)]
            for op in ops[:warmup]:
                op()
        except NotImplementedError as exc:
            sections[key] = {"skipped": str(exc) or type(exc).__name__}
            continue
        except Exception:
            sections[key] = {"error": traceback.format_exc()}
            continue
        counted = ops[warmup:]
        gc.collect()
        gc.disable()
        mark()  # fixtures and warm-up
        try:
            for op in counted:
                op()
        except Exception:
            sections[key] = {"error": traceback.format_exc()}
        else:
            sections[key] = {"dump": None, "calls": calls}
        finally:
            number = mark()
            gc.enable()
        if "dump" in sections[key]:
            sections[key]["dump"] = number
    gc.collect()
    gc.disable()
    mark()
    sections[_EMPTY] = {"dump": mark(), "calls": 1}
    gc.enable()
    manifest.write_text(json.dumps(sections))


if __name__ == "__main__" and "--child" in sys.argv:
    _dir, _manifest, _calls, _warmup, *_keys = sys.argv[sys.argv.index("--child") + 1:]
    count_in_child(Path(_dir), Path(_manifest), int(_calls), int(_warmup),
                   _keys or list(COUNTED))
