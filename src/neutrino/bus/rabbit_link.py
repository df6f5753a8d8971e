"""The RabbitMQ bus's links: connecting (hosts, backoff, heartbeats) and the state of its
two connections, "publisher" and "consumer" (see neutrino.bus.rabbit for the whole picture).

A link is up when its thread has a working connection. The bus counts as connected when
every link is up and none is suspect: when one connection is lost, the broker has often
closed the other one too, and a thread learns that only when it next reads its socket, so
the other link counts again only after its thread has made a round trip on it (``ping``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import sys
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import amqp.spec
import kombu
from kombu import Exchange, Queue

from neutrino.bus.options import TransportHost, parse_transport_url

LOG = logging.getLogger("neutrino.bus.rabbit")

_CAPABILITIES = {
    "authentication_failure_close": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
}
SEND_TIMEOUT = 10.0  # socket write and publisher-confirm wait; past it the link is dead


def backoff_delay(attempt: int, interval: float, factor: float, cap: float,
                  rng: random.Random | None = None) -> float:
    """Delay before reconnect attempt ``attempt`` (0 = the first after a failure):
    almost none for the first, then ``interval * factor**(attempt-1)`` capped at ``cap``,
    jittered between half and all of it so that many clients do not retry in step."""
    r = rng or random
    if attempt <= 0:
        return r.uniform(0.0, min(interval, cap) / 10)
    delay = min(cap, interval * factor ** (attempt - 1))
    return r.uniform(delay / 2, delay)


def ping(chan: Any, timeout: float) -> None:
    """A round trip on ``chan`` that changes nothing (basic.qos with no limits, on a channel
    that consumes nothing): returns once the broker answered, raises if the connection was
    closed (the broker's connection.close comes instead of the answer) or is silent for
    ``timeout`` seconds."""
    chan.send_method(amqp.spec.Basic.Qos, "lBb", (0, 0, False))
    chan.wait(amqp.spec.Basic.QosOk, timeout=timeout)


def discard(conn: kombu.Connection | None) -> None:
    """Drop a (possibly dead) connection without network I/O that could block."""
    if conn is None:
        return
    with contextlib.suppress(Exception):
        conn.collect()


def drain(raw: Any, max_frames: int = 3000) -> None:
    """Read and dispatch the frames that have arrived (call it when the socket is
    readable), without waiting for more. py-amqp reads exactly one frame per call and keeps
    a partly received frame for the next call, so a zero-timeout select tells whether
    another frame has started to arrive."""
    sock = raw.sock
    for _ in range(max_frames):
        try:
            raw.drain_events(timeout=0.01)
        except TimeoutError:
            return
        if not select.select([sock], [], [], 0)[0]:
            return


def rpc_queue(exchange: Exchange, topic: str) -> Queue:
    """The durable shared queue every server of ``topic`` consumes (declared by callers
    too, so that requests wait in it while no server runs)."""
    return Queue(f"{exchange.name}.rpc.{topic}", exchange, routing_key=f"rpc.{topic}",
                 durable=True, auto_delete=False)


class WakePipe:
    """A non-blocking pipe that wakes a thread waiting in select() on ``fd``."""

    def __init__(self) -> None:
        self.fd, self._w = os.pipe()
        for fd in (self.fd, self._w):
            os.set_blocking(fd, False)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # full (it is woken anyway) or closed
            os.write(self._w, b"x")

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            os.read(self.fd, 4096)

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


class Connector:
    """Makes connections to the hosts of a transport URL, one host after the other."""

    def __init__(self, url: str, *, client_name: str | None, heartbeat: int,
                 heartbeat_rate: int, retry: tuple[float, float, float],
                 connect_timeout: float) -> None:
        parsed = parse_transport_url(url)
        if parsed.transport not in ("rabbit", "amqp", "kombu", "kombu+pyamqp"):
            raise ValueError(f"not a RabbitMQ transport URL: {parsed.transport}://")
        self.hosts = list(parsed.hosts) or [TransportHost("127.0.0.1")]
        random.shuffle(self.hosts)  # spread clients over a cluster, as oslo.messaging does
        self.host_index = 0
        self.vhost = parsed.virtual_host or "/"
        self.client_name = client_name or (
            f"{os.path.basename(sys.argv[0] or 'python')}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
        self.heartbeat = heartbeat
        self.hb_rate = max(1, heartbeat_rate)
        # Check heartbeats twice per sending period, at least every second.
        self.hb_step = min(1.0, heartbeat / self.hb_rate / 2) if heartbeat else 1.0
        self.retry = retry
        self.connect_timeout = connect_timeout

    def delay(self, attempt: int) -> float:
        return backoff_delay(attempt, *self.retry)

    def connect(self, purpose: str) -> tuple[kombu.Connection, Any]:
        """One attempt to connect to the next host; returns (kombu, py-amqp) connections.

        The py-amqp connection is used directly from then on: kombu's ``connection``
        property would silently reconnect a dead connection behind our back."""
        host = self.hosts[self.host_index % len(self.hosts)]
        hostname = f"[{host.hostname}]" if ":" in host.hostname else host.hostname
        conn = kombu.Connection(
            hostname=hostname or "127.0.0.1",
            port=host.port or 5672,
            userid=host.username or "guest",
            password=host.password or "guest",
            virtual_host=self.vhost,
            transport="pyamqp",
            heartbeat=self.heartbeat,
            connect_timeout=self.connect_timeout,
            transport_options={
                "client_properties": {
                    "connection_name": f"{self.client_name}:{purpose}",
                    "capabilities": _CAPABILITIES,
                },
                "read_timeout": SEND_TIMEOUT * 3,
                "write_timeout": SEND_TIMEOUT,
                "on_blocked": partial(_on_blocked, purpose),
                "on_unblocked": partial(_on_unblocked, purpose),
            },
        )
        try:
            conn.ensure_connection(max_retries=0)
            raw = conn.connection
        except BaseException:
            self.host_index += 1
            discard(conn)
            raise
        LOG.debug("bus: %s connected to %s:%s", purpose, host.hostname, host.port or 5672)
        return conn, raw


def _on_blocked(purpose: str, reason: str = "") -> None:
    LOG.warning("bus: RabbitMQ blocks the %s connection (%s); messages wait or are "
                "dropped", purpose, reason)


def _on_unblocked(purpose: str) -> None:
    LOG.info("bus: RabbitMQ unblocked the %s connection", purpose)


class LinkState:
    """Which links are up, which are suspect, and when the bus is connected again after an
    outage (then ``on_reconnect`` runs: hints may have been missed)."""

    def __init__(self, closing: threading.Event, on_reconnect: Callable[[], None]) -> None:
        self._closing = closing
        self._on_reconnect = on_reconnect
        self._lock = threading.Lock()
        self._links: dict[str, bool] = {}
        self._wakers: dict[str, Callable[[], None]] = {}
        # Link -> suspicion number: up, but not counted until it has answered a ping.
        self._suspect: dict[str, int] = {}
        self._suspicions = 0
        self._lost = False  # not (fully) connected since the last time we were
        self._ever_failed = False
        self.reconnects = 0  # times on_reconnect fired
        self.last_outage: float | None = None  # seconds the last outage lasted
        self._down_since: float | None = None

    def add(self, which: str, wake: Callable[[], None]) -> bool:
        """Register link ``which`` (down until its thread connects); ``wake`` interrupts
        its thread's wait. False if it exists already or the bus is closing."""
        with self._lock:
            if which in self._links or self._closing.is_set():
                return False
            self._links[which] = False
            self._wakers[which] = wake
            return True

    def is_up(self, which: str) -> bool:
        return self._links.get(which, False)

    @property
    def connected(self) -> bool:
        with self._lock:
            return self._connected_locked()

    def _connected_locked(self) -> bool:
        return (not self._closing.is_set() and all(self._links.values())
                and not self._suspect)

    def set(self, which: str, up: bool) -> None:
        """``which`` connected (a new connection, every consumer declared) or was lost."""
        suspects: list[str] = []
        with self._lock:
            before = self._connected_locked()
            self._links[which] = up
            self._suspect.pop(which, None)  # a new connection is known to work
            if not up and not self._closing.is_set():
                self._lost = True
                # The same outage has probably closed the other connection as well: it
                # does not count until it has answered once.
                for other, other_up in self._links.items():
                    if other != which and other_up:
                        self._suspicions += 1
                        self._suspect[other] = self._suspicions
                        suspects.append(other)
            fire = self._state_changed_locked(before)
        for other in suspects:
            self._wakers[other]()
        if fire:
            self._after_reconnect()

    def suspicion(self, which: str) -> int | None:
        """The number of the suspicion on link ``which`` if it must be pinged."""
        with self._lock:
            return self._suspect.get(which)

    def verified(self, which: str, suspicion: int) -> None:
        """Link ``which`` answered a ping sent after suspicion ``suspicion`` was raised."""
        with self._lock:
            if self._suspect.get(which) != suspicion:
                return  # suspected again meanwhile (or reconnected): ping again or not
            before = self._connected_locked()
            del self._suspect[which]
            fire = self._state_changed_locked(before)
        if fire:
            self._after_reconnect()

    def _state_changed_locked(self, before: bool) -> bool:
        """Bookkeeping after a state change; True if on_reconnect callbacks must run."""
        after = self._connected_locked()
        if before and not after:
            self._down_since = time.monotonic()
        fire = after and not before and self._lost
        if fire:
            self._lost = False
            self.reconnects += 1
            if self._down_since is not None:
                self.last_outage = time.monotonic() - self._down_since
        return fire

    def _after_reconnect(self) -> None:
        LOG.info("bus: connected to RabbitMQ again; running on_reconnect callbacks")
        self._on_reconnect()

    def connect_failed(self, which: str, exc: BaseException, attempt: int,
                       delay: float) -> None:
        with self._lock:
            self._lost = True
            self._ever_failed = True
        log = LOG.warning if attempt == 1 or attempt % 10 == 0 else LOG.debug
        log("bus: %s cannot connect to RabbitMQ (%s: %s); retrying in %.1fs",
            which, type(exc).__name__, exc, delay)

    def broker_seems_up(self) -> bool:
        with self._lock:
            return self._links.get("publisher", False) or not self._ever_failed
