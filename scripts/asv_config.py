"""Write a copy of asv.conf.json whose results and html go under ``.asv/<name>/`` and print its
path. Quick, dry and PR-gate runs use such a copy, so they can never write into ``results/``.

Usage: python -m scripts.asv_config NAME
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def redirected_config(name: str) -> Path:
    """The project's asv configuration with ``results_dir`` and ``html_dir`` under
    ``.asv/<name>/``; repository, benchmarks and environments stay the project's own."""
    config = json.loads((ROOT / "asv.conf.json").read_text())
    folder = ROOT / ".asv" / name
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / config.get("benchmark_dir", "benchmarks")),
        env_dir=str(ROOT / config.get("env_dir", ".asv/env")),
        results_dir=str(folder / "results"),
        html_dir=str(folder / "html"),
    )
    # These runs never publish, so they need not import the publish plugin.
    config.pop("plugins", None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "asv.conf.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


if __name__ == "__main__":
    print(redirected_config(sys.argv[1] if len(sys.argv) > 1 else "dev"))
