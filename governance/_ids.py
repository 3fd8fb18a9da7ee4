"""Cheap process-unique ids for things created on every execution."""

from __future__ import annotations

import itertools
import os
import uuid


def is_blank(value: object) -> bool:
    """Whether an id (or a version) is missing: None, or text that is empty once stripped."""
    return value is None or not str(value).strip()


class IdSequence:
    """Ids of the form ``<random prefix>-<hex counter>``.

    Unique within the process (the counter's ``next`` is atomic under the GIL) and across
    processes (the prefix is random, and drawn again in a forked child), and far cheaper than a
    uuid4 per id.
    """

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = ""
        self._counter = itertools.count(1)
        self.reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        """Draw a new prefix and restart the counter."""
        self._prefix = uuid.uuid4().hex[:16] + "-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        """The next id."""
        # %-formatting: an f-string's ``:x`` looks ``__format__`` up on every call.
        return self._prefix + "%x" % next(self._counter)  # noqa: UP031
