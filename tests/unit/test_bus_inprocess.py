"""The in-process bus (the all-in-one's transport) and the parts both transports share."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from oslo_config import cfg
from tests.support import bus_contract as contract
from tests.support.wait import wait_until

from neutrino.bus import (
    BusClosed,
    BusTimeout,
    RemoteError,
    make_bus,
    register_bus_opts,
    transport_kind,
)
from neutrino.bus.base import (
    OSLO_MESSAGE_KEY,
    OSLO_VERSION_KEY,
    check_topic,
    topic_matches,
)
from neutrino.bus.inprocess import InProcessBroker, InProcessBus
from neutrino.bus.options import parse_transport_url
from neutrino.bus.rabbit import backoff_delay

OSLO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?$")


@pytest.fixture
def broker() -> InProcessBroker:
    return InProcessBroker()


@pytest.fixture
def buses(broker: InProcessBroker) -> Iterator[Callable[..., InProcessBus]]:
    """Factory of buses attached to one broker, as processes to one RabbitMQ."""
    made: list[InProcessBus] = []

    def make(**kwargs: object) -> InProcessBus:
        bus = InProcessBus(broker, **kwargs)  # type: ignore[arg-type]
        made.append(bus)
        return bus

    yield make
    for bus in made:
        bus.close()


# --- fanout ---------------------------------------------------------------------------------

def test_publish_reaches_every_current_subscriber(buses):
    contract.publish_reaches_every_current_subscriber(buses(), buses(), buses())


def test_subscribers_get_their_own_copy_in_order(buses):
    bus = buses()
    first: list[dict] = []
    second: list[dict] = []

    def mutate(msg: dict) -> None:
        msg["seen"] = True
        first.append(msg)

    bus.subscribe("t", mutate)
    bus.subscribe("t", second.append)
    for i in range(50):
        bus.publish("t", {"i": i})
    assert wait_until(lambda: len(first) == 50 and len(second) == 50)
    assert [m["i"] for m in second] == list(range(50))
    assert all("seen" not in m for m in second)


def test_subscription_close_stops_delivery(buses):
    bus = buses()
    got: list[dict] = []
    sub = bus.subscribe("t", got.append)
    bus.publish("t", {"n": 1})
    assert wait_until(lambda: len(got) == 1)
    sub.close()
    sub.close()  # idempotent
    assert not sub.active
    bus.publish("t", {"n": 2})
    # a sentinel on the same topic, subscribed after the close, published after {"n": 2}
    bus.subscribe("t", got.append)
    bus.publish("t", contract.SENTINEL)
    wait_until(lambda: contract.SENTINEL in got)
    assert got == [{"n": 1}, contract.SENTINEL]


def test_publish_never_blocks_on_slow_subscribers(buses):
    bus = buses()
    release = threading.Event()
    bus.subscribe("t", lambda m: release.wait())
    published = threading.Event()

    def publish_all() -> None:
        for i in range(2000):
            bus.publish("t", {"i": i})
        published.set()

    threading.Thread(target=publish_all, daemon=True).start()
    try:
        # all published while the subscriber still holds the first: none waited for it
        wait_until(published.is_set, what="2000 publishes, the subscriber held")
    finally:
        release.set()


def test_publish_to_nobody_and_unencodable_messages(buses):
    bus = buses()
    bus.publish("nobody.listens", {"x": 1})  # fine: a hint with no subscriber is dropped
    with pytest.raises(TypeError):
        bus.publish("t", {"x": object()})
    with pytest.raises(TypeError):
        bus.publish("t", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bus.cast("t", {"x": {1, 2}})
    with pytest.raises(ValueError):
        bus.publish("port.*", {})  # patterns only in subscribe
    with pytest.raises(ValueError):
        bus.publish("", {})


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("#", "anything.at.all", True),
        ("#.c", "a.b.c", True),
        ("#.c", "c", True),
        ("#.c", "a.b", False),
        ("a.#.d", "a.d", True),
        ("a.#.d", "a.b.c.d", True),
        ("*.b.#", "a.b", True),
        ("*.b.#", "b", False),
    ],
)
def test_topic_patterns_follow_amqp(pattern, topic, matches):
    assert topic_matches(pattern, topic) is matches


def test_topic_validation():
    assert check_topic("q-agent-notifier-port-update") == "q-agent-notifier-port-update"
    assert check_topic("port.#", pattern=True) == "port.#"
    with pytest.raises(ValueError):
        check_topic("x" * 300)


# --- serve / cast / call ---------------------------------------------------------------------

def test_each_request_goes_to_one_of_the_servers(buses):
    servers = [buses(), buses()]
    client = buses()
    handled: Counter[str] = Counter()
    lock = threading.Lock()
    started: set[str] = set()
    # Each server holds its first request until the other has taken one: while one
    # server is busy the queue must hand requests to the other, so both serve some
    # whatever the threads' scheduling.
    both = threading.Barrier(2, timeout=20)

    def serving(name: str) -> Callable[[dict], dict]:
        def handler(req: dict) -> dict:
            with lock:
                first = name not in started
                started.add(name)
            if first:
                both.wait()
            with lock:
                handled[req["id"]] += 1
                handled[name] += 1
            return {"by": name}
        return handler

    for i, bus in enumerate(servers):
        bus.serve("q-plugin", serving(f"s{i}"))
    for i in range(40):
        client.cast("q-plugin", {"id": f"r{i}"})
    assert wait_until(lambda: handled["s0"] + handled["s1"] == 40)
    assert handled["s0"] > 0 and handled["s1"] > 0

    replies = Counter(client.call("q-plugin", {"id": f"c{i}"}, timeout=5)["by"]
                      for i in range(20))
    assert sum(replies.values()) == 20
    # The calls were queued after the casts and are answered: a cast handled twice would
    # have been handled by now.
    assert all(handled[f"r{i}"] == 1 for i in range(40))
    assert handled["s0"] + handled["s1"] == 60


def test_call_returns_the_reply(buses):
    server, client = buses(), buses()
    server.serve("rpc", lambda req: {"echo": req, "n": req["n"] + 1})
    server.serve("rpc-none", lambda req: None)
    assert client.call("rpc", {"n": 41}, timeout=5) == {"echo": {"n": 41}, "n": 42}
    assert client.call("rpc-none", {}, timeout=5) == {}


def test_serve_workers_run_concurrently(buses):
    server, client = buses(), buses()
    barrier = threading.Barrier(3, timeout=5)

    def handler(req: dict) -> dict:
        barrier.wait()  # only passes when three handlers run at once
        return {"ok": True}

    server.serve("par", handler, workers=3)
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(client.call("par", {}, 5)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [{"ok": True}] * 3


def test_call_times_out_without_server(buses):
    client = buses()
    start = time.monotonic()
    with pytest.raises(BusTimeout):
        client.call("nobody", {}, timeout=0.2)
    assert 0.19 <= time.monotonic() - start < 1.0


def test_call_times_out_on_slow_server_and_expired_requests_are_dropped(buses):
    server, client = buses(), buses()
    release = threading.Event()
    calls: list[dict] = []

    def slow(req: dict) -> dict:
        calls.append(req)
        release.wait(5)
        return {}

    start = time.monotonic()
    with pytest.raises(BusTimeout):
        client.call("late", {"n": 1}, timeout=0.2)  # no server yet: waits in the queue
    assert time.monotonic() - start < 1.0
    server.serve("late", slow)
    with pytest.raises(BusTimeout):
        client.call("late", {"n": 2}, timeout=0.2)
    release.set()
    # {"n": 2}, queued after {"n": 1}, is served: {"n": 1} expired with its call's
    # timeout and was never served.
    assert wait_until(lambda: calls == [{"n": 2}])


def test_remote_error_carries_type_and_message(buses):
    server, client = buses(), buses()

    class PortNotFound(Exception):
        pass

    def handler(req: dict) -> dict:
        raise PortNotFound(f"port {req['id']} could not be found")

    server.serve("rpc", handler)
    with pytest.raises(RemoteError) as info:
        client.call("rpc", {"id": "p1"}, timeout=5)
    assert info.value.exc_type == "PortNotFound"
    assert info.value.value == "port p1 could not be found"
    assert "PortNotFound" in info.value.traceback
    # An unencodable result is an error for the caller too, not a hang.
    server.serve("rpc-bad", lambda req: {"x": object()})
    with pytest.raises(RemoteError) as info:
        client.call("rpc-bad", {}, timeout=5)
    assert info.value.exc_type == "TypeError"


def test_handler_exceptions_do_not_kill_consumers(buses, caplog):
    contract.handler_exceptions_do_not_kill_consumers(buses(), timeout=5)
    assert "handler bug" in caplog.text


def test_casts_wait_for_a_server(buses):
    client = buses()
    for i in range(3):
        client.cast("report_state", {"i": i})
    got: list[dict] = []
    server = buses()
    server.serve("report_state", lambda req: got.append(req))
    assert wait_until(lambda: len(got) == 3)
    assert sorted(m["i"] for m in got) == [0, 1, 2]


def test_call_from_inside_a_handler(buses):
    bus = buses()
    bus.serve("inner", lambda req: {"v": req["v"] * 2})
    bus.serve("outer", lambda req: {"v": bus.call("inner", req, timeout=5)["v"] + 1})
    assert bus.call("outer", {"v": 20}, timeout=5) == {"v": 41}


def test_close_fails_pending_calls_and_stops_everything(buses):
    server, client = buses(), buses()
    release = threading.Event()
    server_got = threading.Event()
    server.serve("block", lambda req: server_got.set() or (release.wait(5) and None))
    errors: list[BaseException] = []

    def caller() -> None:
        try:
            client.call("block", {}, timeout=10)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=caller)
    t.start()
    assert server_got.wait(5)  # the call reached its server
    client.close()
    t.join(5)
    release.set()
    assert len(errors) == 1 and isinstance(errors[0], BusClosed)
    assert not client.connected
    with pytest.raises(BusClosed):
        client.call("block", {}, timeout=1)
    with pytest.raises(BusClosed):
        client.subscribe("t", lambda m: None)
    client.publish("t", {})  # fire-and-forget even after close: dropped
    client.close()  # idempotent
    assert server.connected


def test_on_reconnect_registration(buses):
    bus = buses()
    fired: list[int] = []

    @bus.on_reconnect
    def resync() -> None:
        fired.append(1)

    assert bus.connected and bus.wait_connected(0.1)
    assert fired == []  # an in-process bus never loses its connection
    bus._fire_reconnect()
    assert wait_until(lambda: fired == [1])


# --- notifications ---------------------------------------------------------------------------

def test_notification_envelope_is_oslo_messaging_v2(buses):
    bus = buses(notification_driver=["messagingv2"], publisher_id="network.host-1")
    got: list[dict] = []
    bus.subscribe("notifications.info", got.append)
    payload = {"network": {"id": str(uuid.uuid4()), "name": "net1", "admin_state_up": True}}
    bus.notify("network.create.end", payload,
               context={"project_id": "p1", "request_id": "req-1"})
    assert wait_until(lambda: len(got) == 1)

    body = got[0]
    assert set(body) == {OSLO_VERSION_KEY, OSLO_MESSAGE_KEY}
    assert body["oslo.version"] == "2.0"
    assert isinstance(body["oslo.message"], str)
    msg = json.loads(body["oslo.message"])
    assert list(msg)[:6] == ["message_id", "publisher_id", "event_type", "priority",
                             "payload", "timestamp"]
    assert uuid.UUID(msg["message_id"])
    assert msg["publisher_id"] == "network.host-1"
    assert msg["event_type"] == "network.create.end"
    assert msg["priority"] == "INFO"
    assert msg["payload"] == payload
    assert OSLO_TIMESTAMP.match(msg["timestamp"]), msg["timestamp"]
    assert re.fullmatch(r"[0-9a-f]{32}", msg["_unique_id"])
    assert msg["_context_project_id"] == "p1"
    assert msg["_context_request_id"] == "req-1"


def test_notification_priority_selects_the_topic(buses):
    bus = buses(notification_driver=["messagingv2"],
                notification_topics=["notifications", "designate"])
    got: list[tuple[str, dict]] = []
    bus.subscribe("notifications.error", lambda m: got.append(("n.error", m)))
    bus.subscribe("designate.error", lambda m: got.append(("d.error", m)))
    bus.subscribe("notifications.info", lambda m: got.append(("n.info", m)))
    bus.notify("port.delete.end", {"port_id": "x"}, priority="ERROR", publisher_id="me")
    assert wait_until(lambda: len(got) == 2)
    assert sorted(name for name, _ in got) == ["d.error", "n.error"]
    msg = json.loads(got[0][1]["oslo.message"])
    assert msg["priority"] == "ERROR" and msg["publisher_id"] == "me"
    with pytest.raises(ValueError):
        bus.notify("x", {}, priority="LOUD")


def test_notifications_follow_the_driver_option(buses):
    off = buses()  # oslo.messaging's default: no driver, no notifications
    v1 = buses(notification_driver=["messaging"])
    got: list[dict] = []
    off.subscribe("notifications.info", got.append)
    off.notify("network.create.start", {"network": {}})
    v1.notify("network.create.start", {"network": {"name": "n"}})
    # A sentinel from ``off``, after its notification: once it is here, so would be what
    # ``off`` sent before it.
    off.publish("notifications.info", {"sentinel": True})
    wait_until(lambda: {"sentinel": True} in got and len(got) >= 2)
    got.remove({"sentinel": True})
    assert len(got) == 1
    assert got[0]["event_type"] == "network.create.start"  # v1: no envelope
    assert got[0]["payload"] == {"network": {"name": "n"}}


# --- configuration --------------------------------------------------------------------------

def test_make_bus_defaults_to_a_shared_in_process_broker():
    conf = cfg.ConfigOpts()
    register_bus_opts(conf)
    register_bus_opts(conf)  # idempotent
    conf([], project="neutrino-test")
    assert conf.transport_url is None
    assert conf.control_exchange == "neutron"
    assert conf.rpc_response_timeout == 60
    assert conf.oslo_messaging_rabbit.heartbeat_timeout_threshold == 60
    assert conf.oslo_messaging_notifications.driver == []
    name = f"test-{uuid.uuid4().hex}"
    conf.set_override("transport_url", f"inprocess://{name}")
    server, agent = make_bus(conf), make_bus(conf)
    try:
        assert isinstance(server, InProcessBus) and server.broker is agent.broker
        assert server.broker is InProcessBroker.named(name)
        assert server.publisher_id.startswith("network.")
        server.serve("q-plugin", lambda req: {"pong": req["ping"]})
        assert agent.call("q-plugin", {"ping": 1}, timeout=5) == {"pong": 1}
    finally:
        server.close()
        agent.close()


def test_transport_url_parsing():
    url = parse_transport_url(
        "rabbit://neutron:s%40cret@rabbit1:5672,neutron:s%40cret@[::1]:5673/open%2Fstack")
    assert url.transport == "rabbit"
    assert [(h.hostname, h.port, h.username, h.password) for h in url.hosts] == [
        ("rabbit1", 5672, "neutron", "s@cret"),
        ("::1", 5673, "neutron", "s@cret"),
    ]
    assert url.virtual_host == "open/stack"
    assert parse_transport_url("rabbit://guest:guest@127.0.0.1:5672/").virtual_host == ""
    assert parse_transport_url("rabbit://h").hosts[0].port is None
    assert transport_kind(None) == "inprocess"
    assert transport_kind("inprocess://") == "inprocess"
    assert transport_kind("rabbit://guest:guest@127.0.0.1:5672/") == "rabbit"
    with pytest.raises(ValueError):
        transport_kind("kafka://h:9092/")


def test_reconnect_backoff_grows_with_jitter_and_a_cap():
    import random

    rng = random.Random(7)
    first = [backoff_delay(0, 1.0, 2.0, 30.0, rng) for _ in range(100)]
    assert all(0 <= d <= 0.1 for d in first)  # the first retry goes at once
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (9, 30.0)]:
        delays = [backoff_delay(attempt, 1.0, 2.0, 30.0, rng) for _ in range(100)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 50  # jittered


def test_make_bus_maps_oslo_options_onto_the_rabbit_transport():
    import socket

    from neutrino.bus.rabbit import RabbitBus

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there: connection attempts are refused at once
    conf = cfg.ConfigOpts()
    register_bus_opts(conf)
    conf([], project="neutrino-test")
    conf.set_override("transport_url", f"rabbit://u:p@127.0.0.1:{port}/vh")
    conf.set_override("control_exchange", "neutron-x")
    conf.set_override("heartbeat_timeout_threshold", 20, group="oslo_messaging_rabbit")
    conf.set_override("driver", ["messagingv2"], group="oslo_messaging_notifications")
    start = time.monotonic()
    bus = make_bus(conf, client_name="unit-test")
    try:
        assert isinstance(bus, RabbitBus)
        assert bus.exchange == "neutrino" and bus.control_exchange == "neutron-x"
        assert bus._heartbeat == 20 and bus._vhost == "vh"
        assert bus.client_name == "unit-test"
        assert bus.notification_driver == ["messagingv2"]
        assert bus.rpc_response_timeout == 60
        bus.publish("t", {})  # dropped, not blocking: no broker there
        bus.notify("network.create.end", {})
        assert not bus.connected
    finally:
        bus.close()
    assert time.monotonic() - start < 5
