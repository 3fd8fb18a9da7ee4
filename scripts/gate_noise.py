"""Measure the PR gate's A/A noise: ``asv continuous`` between two commits with identical code.

In a temporary clone, a commit that only touches the README is made on top of ``BASE``; then the
gate's ``asv continuous`` runs ``--runs`` times between the two, with ``--factor 1`` and every row
shown, and the after/before ratio of every gated benchmark is collected. The report gives each
benchmark's largest ratio over the runs, and the overall spread, from which the gate's factor is
chosen (docs/gate.md).

With ``--load``, every run happens while a load generator keeps every core busy
(``scripts/cpu_load.py``): the spread a gate run on a busy machine sees.

Usage: python -m scripts.gate_noise [BASE] [--runs N] [--load] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

from scripts.cpu_load import saturated_cpus
from scripts.machines import MachineMismatch, machine_name
from scripts.pr_gate import DEFAULT_BENCH, comparison_rows

ROOT = Path(__file__).resolve().parents[1]


def parse_ratios(output: str) -> dict[str, float]:
    """Benchmark -> after/before ratio, from asv's comparison table (rows without a ratio,
    ``n/a``, left out)."""
    return {row.name: row.ratio for row in comparison_rows(output) if row.ratio is not None}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.gate_noise",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default="main")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--load", action="store_true",
                        help="keep every core busy with a load generator during each run")
    parser.add_argument("--json", type=Path, help="write the per-run ratios here")
    args = parser.parse_args(argv)

    try:
        machine = machine_name()
    except MachineMismatch as error:
        print(f"gate_noise: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gate-noise-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        git(clone, "checkout", "-q", git(ROOT, "rev-parse", args.base))
        git(clone, "checkout", "-q", "-b", "aa")
        with (clone / "README.md").open("a") as readme:
            readme.write("\n")
        git(clone, "-c", "user.name=gate", "-c", "user.email=gate@localhost",
            "commit", "-qam", "A/A: same code")
        base, head = git(clone, "rev-parse", "HEAD~1"), git(clone, "rev-parse", "HEAD")
        config = subprocess.run([sys.executable, "-m", "scripts.asv_config", "gate"],
                                cwd=clone, check=True, capture_output=True,
                                text=True).stdout.strip()
        env = {**os.environ, "COLUMNS": "240"}
        runs: list[dict[str, float]] = []
        for index in range(args.runs):
            with saturated_cpus(1200) if args.load else nullcontext():
                result = subprocess.run(
                    [sys.executable, "-m", "asv", "continuous", "--config", config,
                     "--machine", machine,
                     "--factor", "1", "--no-only-changed", "-b", DEFAULT_BENCH, base, head],
                    cwd=clone, env=env, capture_output=True, text=True)
            ratios = parse_ratios(result.stdout)
            if not ratios:
                print(result.stdout[-3000:], result.stderr[-3000:])
                return 2
            runs.append(ratios)
            worst = max(ratios.items(), key=lambda kv: abs(kv[1] - 1))
            print(f"run {index + 1}: {len(ratios)} benchmarks, asv exit {result.returncode}, "
                  f"largest deviation {worst[0]} {worst[1]:.2f}", flush=True)

    names = sorted(set().union(*runs))
    print(f"\n{'benchmark':<80} {'min':>6} {'max':>6}")
    for name in names:
        values = [r[name] for r in runs if name in r]
        print(f"{name:<80} {min(values):>6.2f} {max(values):>6.2f}")
    every = [v for r in runs for v in r.values()]
    print(f"\nall {len(every)} ratios: min {min(every):.2f}, max {max(every):.2f}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
