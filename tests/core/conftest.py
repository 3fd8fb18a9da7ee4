"""Shared setup for the core tests.

The test doubles live in ``core_support.py`` beside this file. pytest runs with
``--import-mode=importlib``, which does not put test folders on ``sys.path``, so this folder is
added here to let the test modules ``import core_support``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
