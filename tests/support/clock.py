"""Moving a test server's liveness clock (neutrino/clock.py) instead of sleeping past
``agent_down_time``: a module puts ``CLOCK_CONF`` in its server's [DEFAULT] section and a
test calls ``ServerClock(server).advance(seconds)``; every API process of that server then
sees agents' heartbeats as that much older (new heartbeats are stamped with the moved
clock, so an agent that reports again is alive again)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.server import Server

CLOCK_FILE = "clock-offset"  # relative to the server's state_path (its workdir)
CLOCK_CONF = {"clock_offset_file": CLOCK_FILE}


class ServerClock:
    def __init__(self, server: Server) -> None:
        self.path = Path(server.workdir) / CLOCK_FILE

    def offset(self) -> float:
        try:
            return float(self.path.read_text() or 0)
        except FileNotFoundError:
            return 0.0

    def advance(self, seconds: float) -> None:
        """Move the server's clock ``seconds`` ahead (the file is replaced at once, so a
        server never reads half of it)."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(repr(self.offset() + seconds))
        os.replace(tmp, self.path)
