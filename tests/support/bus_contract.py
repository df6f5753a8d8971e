"""What every Bus does, whatever its transport: checks run by the tests of each one
(tests/unit/test_bus_inprocess.py, tests/functional/test_bus_rabbit.py) on its buses."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from neutrino.bus import Bus, RemoteError
from tests.support.wait import wait_until

SENTINEL = {"sentinel": True}


def recorder() -> tuple[list[tuple[str, dict]], Callable[[str], Callable[[dict], None]]]:
    """(what arrived, as (handler name, message)) and a maker of named handlers."""
    got: list[tuple[str, dict]] = []
    lock = threading.Lock()

    def make(name: str) -> Callable[[dict], None]:
        def handler(msg: dict) -> None:
            with lock:
                got.append((name, msg))
        return handler

    return got, make


def publish_reaches_every_current_subscriber(server: Bus, agent1: Bus, agent2: Bus
                                            ) -> None:
    got, rec = recorder()
    agent1.subscribe("port.update", rec("a1"))
    agent2.subscribe("port.update", rec("a2"))
    agent2.subscribe("port.*", rec("a2-wild"))
    agent1.subscribe("network.#", rec("a1-net"))
    server.publish("port.update", {"id": "p1", "revision_number": 3})
    server.publish("router.update", {"id": "r1"})
    # Sentinels, published after those, to every subscription: once each has its own,
    # anything published before it to that subscription has arrived too.
    server.publish("port.update", SENTINEL)
    server.publish("network.sentinel", SENTINEL)
    wait_until(lambda: sum(msg == SENTINEL for _, msg in got) == 4)
    got[:] = [(name, msg) for name, msg in got if msg != SENTINEL]
    assert sorted(name for name, _ in got) == ["a1", "a2", "a2-wild"]
    assert all(msg == {"id": "p1", "revision_number": 3} for _, msg in got)


def handler_exceptions_do_not_kill_consumers(bus: Bus, timeout: float) -> None:
    got: list[dict] = []

    def flaky(msg: dict) -> None:
        if msg.get("boom"):
            raise RuntimeError("handler bug")
        got.append(msg)

    bus.subscribe("t", flaky)
    bus.publish("t", {"boom": True})
    bus.publish("t", {"n": 1})
    wait_until(lambda: got == [{"n": 1}])

    served: list[dict] = []

    def flaky_server(req: dict) -> dict:
        if req.get("boom"):
            raise RuntimeError("server bug")
        served.append(req)
        return {"ok": True}

    bus.serve("s", flaky_server)
    bus.cast("s", {"boom": True})
    with pytest.raises(RemoteError):
        bus.call("s", {"boom": True}, timeout=timeout)
    assert bus.call("s", {"n": 2}, timeout=timeout) == {"ok": True}
    assert served == [{"n": 2}]
