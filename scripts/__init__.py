"""Tooling of the benchmark repository: the main job, the PR gate, the dashboard.

Run a tool from the repository root with ``python -m scripts.<name>``.
"""
