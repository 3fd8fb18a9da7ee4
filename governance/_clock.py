"""Time helpers shared by the package: every timestamp is timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timezone
from functools import partial
from typing import Any

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime; injected so that time is testable."""


# A partial, not a function: it is read on every decision and execution, and calls
# datetime.now directly, without a Python frame.
utc_now: Clock = partial(datetime.now, UTC)
utc_now.__doc__ = """Return the current time as an aware UTC datetime."""


def is_aware(value: Any) -> bool:
    """Whether ``value`` is a timezone-aware datetime. A fixed-offset ``timezone`` (UTC among
    them) always has an offset; only other tzinfo classes, such as the one pydantic gives a
    parsed instant, are asked for theirs, which costs ten times as much."""
    if not isinstance(value, datetime):
        return False
    tz = value.tzinfo
    return tz is not None and (type(tz) is timezone or value.utcoffset() is not None)


def is_aware_or_none(value: Any) -> bool:
    """Whether ``value`` is None or a timezone-aware datetime."""
    return value is None or is_aware(value)
