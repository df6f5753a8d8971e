"""Waiting in tests: for a condition, never for a while.

``wait_until`` polls a condition and fails the test, saying what it waited for, when the
condition does not come true in time. To show that something did *not* happen, make a
later, different change that must be seen (a sentinel), wait for it, and then assert that
the first thing still has not happened: what was sent before the sentinel has arrived by
then.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition a test waited for did not come true in time."""


def _describe(predicate: Callable[[], Any]) -> str:
    """The source of a lambda (or the name of a function), for the failure message."""
    name = getattr(predicate, "__name__", repr(predicate))
    if name != "<lambda>":
        return f"{name}()"
    try:
        return " ".join(inspect.getsource(predicate).split())
    except (OSError, TypeError):
        return name


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.02,
               what: str | None = None) -> T:
    """The first true value of ``predicate()`` within ``timeout`` seconds; else raises
    WaitTimeout naming ``what`` (default: the predicate's source) and its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"not within {timeout:g}s: {what or _describe(predicate)} "
                              f"(last: {value!r})")
        time.sleep(interval)
