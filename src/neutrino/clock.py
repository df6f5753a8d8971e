"""The clock of the server's agent-liveness decisions (``agent_down_time``: heartbeats,
dead agents, DHCP failover), injectable so that tests move time instead of waiting for it.

By default it is the system's clock. With ``[DEFAULT] clock_offset_file`` (for tests; a
path relative to ``state_path`` or absolute) the clock runs that many seconds ahead, as the
file says when read: a test of a server subprocess (every API worker of it) makes an agent
dead at once by writing ``agent_down_time + 1`` there, where it would otherwise sleep.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Protocol

from oslo_config import cfg


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """UTC wall-clock time, naive (as the database stores timestamps)."""

    def monotonic(self) -> float:
        """Seconds, for durations only."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def monotonic(self) -> float:
        return time.monotonic()


class OffsetFileClock(SystemClock):
    """The system clock plus the seconds written in ``path`` (0 while it is absent)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def offset(self) -> float:
        try:
            with open(self.path) as f:
                return float(f.read().strip() or 0)
        except FileNotFoundError:
            return 0.0

    def now(self) -> dt.datetime:
        return super().now() + dt.timedelta(seconds=self.offset())

    def monotonic(self) -> float:
        return super().monotonic() + self.offset()


SYSTEM = SystemClock()


def from_conf(conf: cfg.ConfigOpts) -> Clock:
    """The clock ``conf`` asks for (the system's unless ``clock_offset_file`` is set)."""
    path = getattr(conf, "clock_offset_file", None)
    if not path:
        return SYSTEM
    return OffsetFileClock(os.path.join(conf.state_path, path))
