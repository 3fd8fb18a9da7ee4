"""Time helpers shared by the package: every timestamp is timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected so that time is testable."""


# A partial, not a function: it is read on every decision and execution, and calls
# datetime.now directly, without a Python frame.
utc_now: Clock = partial(datetime.now, UTC)
utc_now.__doc__ = """Return the current time as an aware UTC datetime."""
