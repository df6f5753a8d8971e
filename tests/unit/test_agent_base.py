"""The common agent loop: triggers, coalescing, heartbeats, errors (in-process bus)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.wait import wait_until

from neutrino import protocol
from neutrino.agent import base
from neutrino.bus import make_bus
from neutrino.config import make_conf
from neutrino.protocol import dhcp


class FakeServer:
    """Serves topic ``plugin`` like the API server: records requests, answers
    get_host_state with ``networks`` (or raises ``fail`` while set)."""

    def __init__(self, bus: Any) -> None:
        self.requests: list[dict] = []
        self.networks: list[dict] = []
        self.fail: Exception | None = None
        self.version: str | None = None  # of the replies; None: the current one
        self.lock = threading.Lock()
        self.sub = bus.serve("plugin", self.handle, workers=2)

    def handle(self, req: dict) -> dict:
        with self.lock:
            self.requests.append(req)
        if req["method"] == "get_host_state":
            if self.fail is not None:
                raise self.fail
            ids = req["args"]["network_ids"]
            nets = [n for n in self.networks if ids is None or n["id"] in ids]
            reply = protocol.to_wire(dhcp.HostState(host=req["args"]["host"]))
            return {**reply, "networks": nets,
                    **({"version": self.version} if self.version else {})}
        return {}

    def of(self, method: str) -> list[dict]:
        with self.lock:
            return [r["args"] for r in self.requests if r["method"] == method]


class RecordingAgent(base.Agent):
    agent_type = "Test agent"
    binary = "neutrino-test-agent"

    def __init__(self, conf: Any, bus: Any) -> None:
        super().__init__(conf, bus)
        self.calls: list[tuple[list[str] | None, set[str] | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.raise_next: Exception | None = None
        self.hinted: list[list[str] | None] = []  # resyncs requested by hints, in order

    def request_resync(self, network_ids: Any, reason: str = "") -> None:
        super().request_resync(network_ids, reason)
        if reason == "hint":
            self.hinted.append(None if network_ids is None else list(network_ids))

    def configurations(self) -> dict[str, Any]:
        return {"answer": 42}

    def reconcile(self, state: dhcp.HostState, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        self.entered.set()
        self.gate.wait(10)
        self.calls.append(([n.id for n in state.networks], network_ids))
        if self.raise_next is not None:
            e, self.raise_next = self.raise_next, None
            raise e


@pytest.fixture
def env() -> Iterator[tuple[Any, Any, Callable[..., RecordingAgent]]]:
    url = f"inprocess://agent-test-{uuid.uuid4().hex[:8]}"
    server_conf = make_conf([], overrides={"DEFAULT": {"transport_url": url}})
    server_bus = make_bus(server_conf)
    server = FakeServer(server_bus)
    agents: list[RecordingAgent] = []

    def make(**agent_opts: Any) -> RecordingAgent:
        conf = make_conf([], overrides={"DEFAULT": {"transport_url": url}})
        base.register_agent_opts(conf)
        conf.set_override("host", "h1")
        for k, v in {"report_interval": 0.2, "resync_interval": 60, **agent_opts}.items():
            conf.set_override(k, v, group="AGENT")
        agent = RecordingAgent(conf, make_bus(conf))
        agents.append(agent)
        return agent

    yield server, server_bus, make
    for a in agents:
        a.stop()
        if a.bus is not None:
            a.bus.close()
    server_bus.close()


def test_start_resyncs_everything_and_heartbeats(env: Any) -> None:
    server, _, make = env
    server.networks = [{"id": "n1"}, {"id": "n2"}]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls)
    assert agent.calls[0] == (["n1", "n2"], None)
    beats = wait_until(lambda: len(server.of("report_state")) >= 2 and server.of("report_state"))
    first, second = beats[0]["agent"], beats[1]["agent"]
    assert first["start_flag"] is True and second["start_flag"] is False
    assert first["host"] == "h1" and first["agent_type"] == "Test agent"
    assert first["configurations"] == {"answer": 42}
    assert first["binary"] == "neutrino-test-agent"
    (ask,) = server.of("get_host_state")
    assert ask == {"host": "h1", "agent_type": "Test agent", "network_ids": None,
                   "router_ids": None, "security_group_ids": None}
    assert {r["version"] for r in server.requests} == {protocol.VERSION}


def test_hint_resyncs_hinted_networks(env: Any) -> None:
    server, server_bus, make = env
    server.networks = [{"id": "n1"}, {"id": "n2"}]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls and agent.idle())
    server_bus.publish("host.h1", {"networks": ["n2", "gone"]})
    wait_until(lambda: len(agent.calls) == 2)
    assert agent.calls[1] == (["n2"], {"n2", "gone"})
    assert server.of("get_host_state")[1]["network_ids"] == ["gone", "n2"]
    server_bus.publish("host.h1", {"networks": None})
    wait_until(lambda: len(agent.calls) == 3)
    assert agent.calls[2] == (["n1", "n2"], None)
    server_bus.publish("host.h2", {"networks": None})  # another host's
    server_bus.publish("host.h1", {"networks": "garbage"})
    server_bus.publish("host.h1", {"networks": ["n1"]})  # the sentinel: only it counts
    wait_until(lambda: len(agent.calls) >= 4 and agent.idle())
    assert agent.calls[3:] == [(["n1"], {"n1"})]


def test_burst_of_hints_coalesces_into_one_queued_resync(env: Any) -> None:
    server, server_bus, make = env
    server.networks = [{"id": f"n{i}"} for i in range(10)]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls and agent.idle())
    agent.gate.clear()
    agent.entered.clear()
    server_bus.publish("host.h1", {"networks": ["n0"]})
    assert agent.entered.wait(5)  # n0's resync is in flight and blocked
    for i in range(1, 10):
        server_bus.publish("host.h1", {"networks": [f"n{i}"]})
    wait_until(lambda: len(agent.hinted) == 10)  # every hint arrived while n0's blocks
    agent.gate.set()
    wait_until(agent.idle)
    assert agent.calls[1:] == [(["n0"], {"n0"}),
                               ([f"n{i}" for i in range(1, 10)], {f"n{i}" for i in range(1, 10)})]


def test_full_resync_absorbs_queued_partial_ones(env: Any) -> None:
    server, server_bus, make = env
    server.networks = [{"id": "n1"}]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls and agent.idle())
    agent.gate.clear()
    agent.entered.clear()
    server_bus.publish("host.h1", {"networks": ["n1"]})
    assert agent.entered.wait(5)
    server_bus.publish("host.h1", {"networks": ["n1"]})
    server_bus.publish("host.h1", {"networks": None})
    server_bus.publish("host.h1", {"networks": ["n1"]})
    wait_until(lambda: len(agent.hinted) == 4)  # every hint arrived while the first blocks
    agent.gate.set()
    wait_until(agent.idle)
    assert [c[1] for c in agent.calls[1:]] == [{"n1"}, None]


def test_errors_are_retried_and_never_end_the_loop(env: Any) -> None:
    server, server_bus, make = env
    server.networks = [{"id": "n1"}]
    server.fail = RuntimeError("database is down")
    agent = make()
    agent.start()
    wait_until(lambda: len(server.of("get_host_state")) >= 2, timeout=5)  # retried (1 s)
    assert agent.calls == [] and agent.last_error is not None
    server.fail = None
    wait_until(lambda: agent.calls)
    assert agent.calls[0] == (["n1"], None)
    # a failing reconcile is retried too, and a hint retries at once
    agent.raise_next = RuntimeError("kernel said no")
    server_bus.publish("host.h1", {"networks": ["n1"]})
    wait_until(lambda: len(agent.calls) >= 3, timeout=5)
    assert agent.calls[1:3] == [(["n1"], {"n1"}), (["n1"], {"n1"})]
    assert agent.running


def test_reconnect_and_timer_trigger_full_resyncs(env: Any) -> None:
    server, _, make = env
    server.networks = [{"id": "n1"}]
    agent = make(resync_interval=0.3)
    agent.start()
    wait_until(lambda: agent.full_resync_count >= 3, timeout=5)  # start + timer
    count = agent.full_resync_count
    agent._on_reconnect()
    wait_until(lambda: agent.full_resync_count > count)


def test_host_option_defaults_to_hostname() -> None:
    import socket

    conf = make_conf([])
    base.register_agent_opts(conf)
    base.register_agent_opts(conf)  # idempotent
    assert conf.host == socket.gethostname()
    assert conf.host_namespace is None
    assert conf.AGENT.report_interval == 30
    assert conf.AGENT.polling_interval == 2


def test_hint_for_another_kind_of_agent_is_ignored(env: Any) -> None:
    """A router hint ({"routers": ...}, for the L3 agent) must not make a network agent
    resync everything, and the other way round."""
    server, server_bus, make = env
    server.networks = [{"id": "n1"}]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls and agent.idle())
    server_bus.publish("host.h1", {"routers": ["r1"]})
    server_bus.publish("host.h1", {"routers": None})
    server_bus.publish("host.h1", {})
    server_bus.publish("host.h1", {"networks": ["n1"]})  # the sentinel: only it counts
    wait_until(lambda: len(agent.calls) >= 2 and agent.idle())
    assert agent.calls[1:] == [(["n1"], {"n1"})]
    assert agent.hinted == [["n1"]]

    class RouterAgent(base.Agent):
        agent_type = "Router test agent"
        resource_key = "routers"
        resource_ids_arg = "router_ids"

    router_agent = RouterAgent(agent.conf, agent.bus)
    asked: list[Any] = []
    router_agent.request_resync = lambda ids, reason="": asked.append(ids)  # type: ignore
    router_agent._on_hint({"networks": ["n1"]})
    router_agent._on_hint({"routers": ["r1"]})
    router_agent._on_hint({"routers": None})
    assert asked == [["r1"], None]


# --- protocol versions (protocol/version.py) ---------------------------------------------------
def test_agent_refuses_a_server_of_another_major(env: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A reply of another major is refused: logged as an error, nothing reconciled, asked
    again (with back-off) until the server speaks the agent's major."""
    server, _, make = env
    server.networks = [{"id": "n1"}]
    server.version = "2.0"
    agent = make()
    agent.start()
    wait_until(lambda: isinstance(agent.last_error, protocol.ProtocolVersionError))
    # the error is logged by the agent's thread right after it records last_error: wait for it
    wait_until(lambda: any(r.levelname == "ERROR" and "agent protocol 2.0" in r.getMessage()
                           and "refus" in r.getMessage() for r in caplog.records))
    assert agent.calls == []
    server.version = "1.7"  # a newer minor of our major: fine
    wait_until(lambda: agent.calls, timeout=5)
    assert agent.calls[0] == (["n1"], None)


def test_agent_ignores_hints_of_another_major(env: Any) -> None:
    server, server_bus, make = env
    server.networks = [{"id": "n1"}, {"id": "n2"}]
    agent = make()
    agent.start()
    wait_until(lambda: agent.calls and agent.idle())
    server_bus.publish("host.h1", {"version": "2.0", "networks": ["n1"]})
    server_bus.publish("host.h1", {"version": "1.0", "networks": ["n2"]})  # the sentinel
    wait_until(lambda: len(agent.calls) == 2)
    assert agent.calls[1] == (["n2"], {"n2"})
    assert len(server.of("get_host_state")) == 2


def test_bad_entries_are_left_out_and_reported(env: Any) -> None:
    """One network of the wrong shape does not stop the others: it is handed to
    reconcile as invalid, with the path of the field that did not fit."""
    server, _, make = env
    server.networks = [{"id": "n1"}, {"id": "n2", "mtu": "big"}]
    agent = make()
    seen: list[dict[str, str]] = []
    reconcile = agent.reconcile

    def spy(state: Any, ids: Any, invalid: dict[str, str]) -> None:
        seen.append(invalid)
        reconcile(state, ids, invalid)

    agent.reconcile = spy  # type: ignore[method-assign]
    agent.start()
    wait_until(lambda: agent.calls)
    assert agent.calls[0] == (["n1"], None)
    assert list(seen[0]) == ["n2"] and "$.mtu" in seen[0]["n2"]
