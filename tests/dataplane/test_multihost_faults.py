"""Faults on the multi-host deployment of test_multihost.py: lost hints and a broker restart.

The database is the truth and messages are hints (docs/agent-protocol.md): when hints are
lost, the periodic full resync must converge anyway, and after the broker comes back the
agents must reconnect, resync and keep converging.

RabbitMQ is shared by the whole test session: the restart test always runs
``rabbitmqctl start_app`` (try/finally), and this module waits, before it returns, until
``rabbitmqctl await_startup`` succeeds and port 5672 accepts connections.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from neutrino.agent.linux import devices, names
from tests.dataplane import test_multihost as multihost
from tests.dataplane.agent_helpers import fdb_state, reaches, wait_for, wait_reaches
from tests.dataplane.test_multihost import RABBIT_URL, Deployment
from tests.support.agent import AgentProcess

# the fixtures of test_multihost.py (a deployment of this module's own)
deployment = multihost.deployment
dep = multihost.dep

RABBITMQCTL_TIMEOUT = 120


def _rabbitmqctl(*args: str,
                 timeout: float = RABBITMQCTL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def _port_open() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            return True
    except OSError:
        return False


def _ensure_broker_up(timeout: float = 60) -> None:
    """start_app (a no-op when running), await_startup, and port 5672 accepting."""
    _rabbitmqctl("start_app")
    _rabbitmqctl("await_startup", "--timeout", str(int(timeout)))
    wait_for(_port_open, timeout, 0.2, what="RabbitMQ accepting on 5672")


@pytest.fixture(scope="module", autouse=True)
def _broker_restored() -> Iterator[None]:
    """Whatever happens in this module, leave RabbitMQ running for the rest of the session."""
    yield
    _ensure_broker_up()


def _fanout_queues(exchange: str, host: str) -> list[str]:
    out = _rabbitmqctl("list_queues", "--quiet", "--no-table-headers", "name").stdout
    prefix = f"{exchange}.fanout.host.{host}."
    return [q.strip() for q in out.splitlines() if q.strip().startswith(prefix)]


def _unbind(exchange: str, queue: str, routing_key: str) -> None:
    """Remove one binding. The queue is exclusive to the agent's connection, so a client
    cannot queue_unbind it (RESOURCE_LOCKED); the broker itself can."""
    expr = (f'rabbit_binding:remove({{binding, rabbit_misc:r(<<"/">>, exchange, '
            f'<<"{exchange}">>), <<"{routing_key}">>, rabbit_misc:r(<<"/">>, queue, '
            f'<<"{queue}">>), []}}, <<"neutrino-tests">>).')
    out = _rabbitmqctl("eval", expr)
    assert out.returncode == 0 and "ok" in out.stdout, (out.stdout, out.stderr)


def _bindings(exchange: str) -> set[tuple[str, str]]:
    out = _rabbitmqctl("list_bindings", "--quiet", "--no-table-headers", "source_name",
                       "destination_name", "routing_key").stdout
    rows = (line.split("\t") for line in out.splitlines())
    return {(r[1], r[2]) for r in rows if len(r) == 3 and r[0] == exchange}


def test_lost_hints_converge_through_periodic_resync(dep: Deployment) -> None:
    resync = 3.0
    ex = dep.server_conf_exchange
    h1, h2 = dep.hosts["h1"], dep.hosts["h2"]
    # h2's agent, restarted with a short resync_interval
    dep.agents["h2"].stop()
    agent = AgentProcess("linuxbridge", "h2-shortresync", dep.workdir, {
        "DEFAULT": {"transport_url": RABBIT_URL, "bus_exchange": ex, "host": "h2",
                    "host_namespace": h2.ns},
        "AGENT": {"report_interval": 1, "polling_interval": 0.5, "resync_interval": resync},
        "linux_bridge": {"physical_interface_mappings": "provider:eth1"},
        "vxlan": {"enable_vxlan": True, "local_ip": h2.ip, "l2_population": True},
    })
    net = None
    try:
        agent.start()
        wait_for(lambda: len(_fanout_queues(ex, "h2")) == 1, 30, 0.2,
                 what="h2's agent subscribed to host.h2")
        (queue,) = _fanout_queues(ex, "h2")
        net = dep.network("nohints")
        dep.subnet(net, "10.99.8.0/24")
        vni = net["provider:segmentation_id"]
        a = dep.boot("n1", net, "h1")
        b = dep.boot("n2", net, "h2")
        dep.wait_active(a, b)
        wait_reaches(a.namespace, b.ip, timeout=10)

        # from now on h2's agent gets no hint at all
        _unbind(ex, queue, "fanout.host.h2")
        assert (queue, "fanout.host.h2") not in _bindings(ex)
        full_before = agent.log().count("resync of all networks done")

        # ports change on h2 (one new, one gone) and on h1 (h2 must learn of it)
        t0 = time.monotonic()
        c = dep.boot("n3", net, "h2", wait_active=False)
        d = dep.boot("n4", net, "h1")
        dep.delete(b)
        dep.wait_active(c, timeout=4 * resync + 10)
        wait_for(lambda: (st := fdb_state(h2.ns, vni)) is not None
                 and dict(st.unicast) == {a.mac_address: frozenset({h1.ip}),
                                          d.mac_address: frozenset({h1.ip})}
                 and dict(st.neigh) == {a.ip: a.mac_address, d.ip: d.mac_address},
                 4 * resync + 10, what="h2's fdb/neigh converged without hints")
        wait_reaches(c.namespace, d.ip, timeout=10)
        converged = time.monotonic() - t0
        print(f"converged without hints in {converged:.2f} s (resync_interval {resync} s)")
        assert reaches(a.namespace, c.ip)
        assert not devices.device_exists(names.tap_name(b.port_id), h2.ns)
        # still no binding: it was the periodic resync, not a hint
        assert (queue, "fanout.host.h2") not in _bindings(ex)
        assert agent.log().count("resync of all networks done") > full_before
        for vm in (a, c, d):
            dep.delete(vm)
    finally:
        if net is not None:
            dep.delete_network(net)
        agent.stop()
        dep.agents["h2"].start()


def _restart_broker() -> float:
    """stop_app + start_app; start_app always runs. Returns the seconds the broker was down."""
    t0 = time.monotonic()
    try:
        out = _rabbitmqctl("stop_app")
        assert out.returncode == 0, out.stderr
        time.sleep(2)  # let every client notice the lost connection
    finally:
        _ensure_broker_up()
    return time.monotonic() - t0


def test_broker_restart_agents_reconnect_and_converge(dep: Deployment) -> None:
    h1, h2, h3 = (dep.hosts[h] for h in ("h1", "h2", "h3"))
    net = dep.network("rabbitrestart")
    try:
        dep.subnet(net, "10.99.9.0/24")
        vni = net["provider:segmentation_id"]
        a = dep.boot("r1", net, "h1")
        b = dep.boot("r2", net, "h2")
        dep.wait_active(a, b)
        wait_reaches(a.namespace, b.ip, timeout=10)

        down = _restart_broker()
        t0 = time.monotonic()
        # every agent reconnected and reports again (a fresh heartbeat after the restart)
        dep.wait_agents_alive(timeout=60)
        # a new instance on h3, an old one (h1's) deleted
        c = dep.boot("r3", net, "h3", wait_active=False)
        dep.delete(a)
        dep.wait_active(c, timeout=60)
        wait_reaches(c.namespace, b.ip, timeout=45)

        def h2_forgot_a() -> bool:
            st = fdb_state(h2.ns, vni)
            return (st is not None and a.mac_address not in st.unicast
                    and a.ip not in st.neigh and h1.ip not in st.flood
                    and dict(st.unicast) == {c.mac_address: frozenset({h3.ip})})

        wait_for(h2_forgot_a, 45, 0.2, what="a's fdb/neigh entries gone from h2")
        converged = time.monotonic() - t0
        print(f"broker down/up in {down:.2f} s; converged {converged:.2f} s after it was up")
        assert reaches(b.namespace, c.ip)
        for name, agent in dep.agents.items():
            assert agent.running, f"agent {name} died\n{dep.logs()}"
        dep.delete(b)
        dep.delete(c)
    finally:
        _ensure_broker_up()
        dep.delete_network(net)
