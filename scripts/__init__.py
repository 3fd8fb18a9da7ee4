"""Tooling of the benchmark repository: the main job, the PR gate, the dashboard; run a tool with ``python -m scripts.<name>``."""
