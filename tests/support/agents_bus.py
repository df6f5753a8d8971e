"""Simulated agents for API tests: a test talks to the real server over a real RabbitMQ
(NEUTRINO_TEST_RABBIT_URL, default guest@127.0.0.1) exactly as an agent does: casts
report_state / update_device_up / ..., calls get_host_state, listens to its hints on
``host.<host>`` and to the server's notifications.

Each test module gets its own exchanges and notification topic (``BusEnv``), deleted at
the end, so modules and concurrent runs do not see each other's messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import kombu
import pytest

from neutrino import config
from neutrino.bus import Bus, make_bus
from neutrino.bus.options import parse_transport_url
from tests.support.neutron import Api
from tests.support.wait import wait_until

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
LINUXBRIDGE = "Linux bridge agent"
DHCP = "DHCP agent"


def _amqp_url() -> str:
    parsed = parse_transport_url(RABBIT_URL)
    h = parsed.hosts[0]
    vhost = parsed.virtual_host or "/"
    return (f"amqp://{h.username or 'guest'}:{h.password or 'guest'}@"
            f"{h.hostname or '127.0.0.1'}:{h.port or 5672}/{vhost if vhost != '/' else ''}")


def require_rabbit() -> None:
    """Skip (or, with NEUTRINO_TEST_REQUIRE_BACKENDS, fail) when RabbitMQ is not there."""
    h = parse_transport_url(RABBIT_URL).hosts[0]
    try:
        with socket.create_connection((h.hostname or "127.0.0.1", h.port or 5672), timeout=3):
            return
    except OSError as e:
        reason = f"RabbitMQ unreachable at {RABBIT_URL}: {e}"
    if os.environ.get("NEUTRINO_TEST_REQUIRE_BACKENDS"):
        pytest.fail(reason)
    pytest.skip(reason)


class BusEnv:
    """One test module's corner of the broker."""

    def __init__(self, tag: str) -> None:
        prefix = f"{tag}-{uuid.uuid4().hex[:8]}"
        self.exchange = f"neutrino-{prefix}"
        self.control_exchange = f"neutron-{prefix}"
        self.notification_topic = f"notifications-{prefix}"
        self._buses: list[Bus] = []

    def sections(self) -> dict[str, dict[str, Any]]:
        """Config sections of the server (and of the test's own bus)."""
        return {
            "DEFAULT": {"transport_url": RABBIT_URL, "bus_exchange": self.exchange,
                        "control_exchange": self.control_exchange},
            "oslo_messaging_notifications": {"driver": "messagingv2",
                                             "topics": self.notification_topic},
        }

    def server_conf(self, **defaults: Any) -> dict[str, dict[str, Any]]:
        sections = self.sections()
        sections["DEFAULT"].update(defaults)
        return sections

    def bus(self) -> Bus:
        overrides: dict[str, dict[str, object]] = {
            "DEFAULT": dict(self.sections()["DEFAULT"]),
            "oslo_messaging_notifications": {"driver": ["messagingv2"],
                                             "topics": [self.notification_topic]},
        }
        bus = make_bus(config.make_conf(overrides=overrides),
                       client_name=f"test-{self.exchange}")
        assert bus.wait_connected(15), "the test's bus did not connect to RabbitMQ"
        self._buses.append(bus)
        return bus

    def notifications(self) -> list[dict[str, Any]]:
        """The INFO notifications queued for a consumer like Ceilometer (taken off the
        queue), as decoded oslo.messaging v2 messages (poll with wait_until)."""
        got: list[dict[str, Any]] = []
        with kombu.Connection(_amqp_url()) as conn:
            chan = conn.channel()
            while True:
                try:
                    m = chan.basic_get(f"{self.notification_topic}.info", no_ack=True)
                except Exception:  # not declared yet: nothing sent yet
                    m = None
                    chan = conn.channel()
                if m is None:
                    return got
                got.append(json.loads(json.loads(m.body)["oslo.message"]))

    def cleanup(self) -> None:
        for bus in self._buses:
            bus.close()
        with kombu.Connection(_amqp_url()) as conn:
            chan = conn.channel()
            for queue in (f"{self.exchange}.rpc.plugin", f"{self.notification_topic}.info",
                          f"{self.notification_topic}.error"):
                with contextlib.suppress(Exception):
                    chan.queue_delete(queue)
            for name in (self.exchange, self.control_exchange):
                with contextlib.suppress(Exception):
                    chan.exchange_delete(name)

    @contextlib.contextmanager
    def connected(self) -> Iterator[Bus]:
        """The test's own bus (RabbitMQ required); everything of this env deleted after."""
        require_rabbit()
        try:
            yield self.bus()
        finally:
            self.cleanup()


class SimAgent:
    """An agent of ``agent_type`` on ``host``, as seen by the server: nothing on the host,
    only the protocol."""

    def __init__(self, bus: Bus, host: str, agent_type: str = LINUXBRIDGE,
                 configurations: dict[str, Any] | None = None, *,
                 availability_zone: str | None = "nova") -> None:
        self.bus = bus
        self.availability_zone = availability_zone
        self.host = host
        self.agent_type = agent_type
        self.configurations = configurations if configurations is not None else {}
        self.hints: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sub = bus.subscribe(f"host.{host}", self._on_hint)

    def _on_hint(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.hints.append(message)

    def take_hints(self) -> list[dict[str, Any]]:
        with self._lock:
            out, self.hints = self.hints, []
        return out

    def hinted_networks(self) -> set[str]:
        return {n for h in self.take_hints() for n in (h.get("networks") or ())}

    def hints_before(self, sentinel_network: str, timeout: float = 20.0
                     ) -> list[dict[str, Any]]:
        """The hints that came before the first one naming ``sentinel_network`` (taken off
        the list with it), once it has come. Hints of one API process arrive in the order
        it sent them, so after a change that must not hint this host, a later change that
        must (on another network: the sentinel) shows whether the first one did."""
        def through() -> tuple[list[dict[str, Any]]] | None:
            with self._lock:
                for i, h in enumerate(self.hints):
                    if sentinel_network in (h.get("networks") or ()):
                        before, self.hints = self.hints[:i], self.hints[i + 1:]
                        return (before,)
            return None

        return wait_until(through, timeout, what=f"a hint of {sentinel_network} to "
                          f"{self.host}")[0]

    def cast(self, method: str, **args: Any) -> None:
        self.bus.cast("plugin", {"method": method, "args": args})

    def report(self, start_flag: bool = False) -> None:
        self.cast("report_state", agent={
            "agent_type": self.agent_type, "binary": "neutrino-test-agent",
            "host": self.host, "topic": "N/A", "availability_zone": self.availability_zone,
            "configurations": self.configurations, "start_flag": start_flag})

    def start_heartbeat(self, interval: float = 0.5) -> SimAgent:
        """Report now and every ``interval`` seconds until ``stop_heartbeat`` (again after
        a stop: the agent is back)."""
        self.stop_heartbeat()
        self._stop.clear()
        self.report(start_flag=True)

        def beat() -> None:
            while not self._stop.wait(interval):
                self.report()

        self._thread = threading.Thread(target=beat, daemon=True, name=f"beat-{self.host}")
        self._thread.start()
        return self

    def stop_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def state(self, network_ids: list[str] | None = None) -> dict[str, Any]:
        return self.bus.call("plugin", {"method": "get_host_state", "args": {
            "host": self.host, "agent_type": self.agent_type, "network_ids": network_ids}},
            timeout=30)

    def device_up(self, *port_ids: str) -> None:
        self.cast("update_device_up", host=self.host, agent_type=self.agent_type,
                  port_ids=list(port_ids))

    def device_down(self, *port_ids: str) -> None:
        self.cast("update_device_down", host=self.host, agent_type=self.agent_type,
                  port_ids=list(port_ids))

    def dhcp_ready(self, *port_ids: str) -> None:
        self.cast("dhcp_ready_on_ports", host=self.host, port_ids=list(port_ids))

    def close(self) -> None:
        self.stop_heartbeat()
        self._sub.close()


class HintSentinel:
    """Shows that a change did *not* hint a host: after it, ``settle()`` makes a change
    every one of ``agents`` must hear of (a new network with a port on each of their
    hosts) and returns, per agent, the hints that came before that one's; as one API
    process sends its hints in order, those are all the hints sent until then."""

    def __init__(self, admin: Api, *agents: SimAgent) -> None:
        self.admin = admin
        self.agents = agents
        self._networks: set[str] = set()  # hints naming them are the sentinels' own

    def settle(self) -> list[list[dict[str, Any]]]:
        net = self.admin.network(**{"provider:network_type": "vxlan"})
        self._networks.add(net["id"])
        for a in self.agents:
            self.admin.create("ports", network_id=net["id"], **{"binding:host_id": a.host},
                              port_security_enabled=False, security_groups=[])
        # Hints as their payload: the envelope's protocol version is tests/unit/test_protocol's.
        return [[{k: v for k, v in h.items() if k != "version"}
                 for h in a.hints_before(net["id"])
                 if not self._networks & set(h.get("networks") or ())]
                for a in self.agents]


def lb_configurations(tunneling_ip: str | None = None,
                      mappings: dict[str, str] | None = None) -> dict[str, Any]:
    """What a Linux bridge agent reports (neutrino/agent/l2/linuxbridge.py)."""
    return {"interface_mappings": mappings if mappings is not None else {},
            "bridge_mappings": {},
            "tunnel_types": ["vxlan"] if tunneling_ip else [],
            "tunneling_ip": tunneling_ip, "l2_population": True, "devices": 0}


def numbered_lb(first: int, mappings: dict[str, str] | None = None
                ) -> Callable[[str, int], dict[str, Any]]:
    """``live_agents``' configure: Linux bridge agents with tunnel addresses 192.0.2.N,
    N counting from ``first``."""
    return lambda _type, index: lb_configurations(f"192.0.2.{first + index}", mappings)


@contextlib.contextmanager
def agents(bus: Bus) -> Iterator[Callable[..., SimAgent]]:
    """A factory of SimAgents that are all closed afterwards."""
    made: list[SimAgent] = []

    def make(host: str, agent_type: str = LINUXBRIDGE,
             configurations: dict[str, Any] | None = None) -> SimAgent:
        a = SimAgent(bus, host, agent_type, configurations)
        made.append(a)
        return a

    try:
        yield make
    finally:
        for a in made:
            a.close()


def retire(admin: Api, agents: list[SimAgent]) -> None:
    """Stop ``agents`` and delete their rows, so that no later test schedules to them. A
    heartbeat already sent would bring a row back: each agent reports once more, marked,
    and the rows go once the server shows every agent's latest mark. (A heartbeat handled
    after the marked report, by another API process, hides the mark: then the agent
    reports again, with a new mark.)"""
    marks: dict[int, tuple[int, float]] = {}  # id(agent): (latest mark, when sent)

    def mark(a: SimAgent) -> None:
        n = marks.get(id(a), (0, 0.0))[0] + 1
        marks[id(a)] = (n, time.monotonic())
        a.configurations = {**a.configurations, "retired": n}
        a.report()

    for a in agents:
        a.close()
        mark(a)

    def rows() -> list[dict[str, Any]] | None:
        found = [r for a in agents for r in admin.list("agents", f"host={a.host}")]
        shown = {(r["host"], r["agent_type"]): r["configurations"].get("retired")
                 for r in found}
        done = True
        for a in agents:
            n, sent = marks[id(a)]
            if shown.get((a.host, a.agent_type)) != n:
                done = False
                if time.monotonic() - sent > 1.0:
                    mark(a)
        return found if done else None

    for row in (wait_until(rows, 20, 0.1, "the agents' last reports") if agents else []):
        admin.delete("agents", row["id"])


def wait_registered(admin: Api, a: SimAgent) -> dict[str, Any]:
    """The agent's row once the server lists it alive (report_state is only a cast)."""
    def found() -> dict[str, Any] | None:
        rows = admin.list("agents", f"host={a.host}&agent_type={quote(a.agent_type)}")
        return next((r for r in rows if r["alive"]), None)

    return wait_until(found, what=f"{a.agent_type} on {a.host} registered and alive")


def disable_agents(admin: Api, agent_type: str) -> None:
    """Take earlier agents of ``agent_type`` (other tests', dead or alive) out of
    scheduling, so that only the test's own can be chosen."""
    for other in admin.list("agents", f"agent_type={quote(agent_type)}"):
        admin.update("agents", other["id"], admin_state_up=False)


@contextlib.contextmanager
def live_agents(bus: Bus, admin: Api, configure: Callable[[str, int], dict[str, Any]], *,
                default_type: str = LINUXBRIDGE, interval: float = 0.5
                ) -> Iterator[Callable[..., SimAgent]]:
    """A factory of simulated agents that heartbeat every ``interval`` seconds and are
    alive in the server when handed out. ``configure(agent_type, index)`` gives the
    configurations of the index-th agent made when the caller gives none. Afterwards the
    agents stop and their rows are deleted, so that no later test schedules to them."""
    made: list[SimAgent] = []
    with agents(bus) as new_agent:

        def make(agent_type: str = default_type,
                 configurations: dict[str, Any] | None = None, host: str | None = None, *,
                 beat: bool = True) -> SimAgent:
            if configurations is None:
                configurations = configure(agent_type, len(made))
            made.append(new_agent(host or f"h-{uuid.uuid4().hex[:10]}", agent_type,
                                  configurations))
            if beat:
                made[-1].start_heartbeat(interval)
                wait_registered(admin, made[-1])
            return made[-1]

        try:
            yield make
        finally:
            retire(admin, made)
