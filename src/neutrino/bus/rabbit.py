"""RabbitMQ transport, on kombu (and py-amqp, kombu's AMQP 0-9-1 transport).

Layout on the broker, for the bus exchange E (``bus_exchange``, default "neutrino"):

- E: one durable topic exchange for all of neutrino's own traffic.
- ``publish(topic)``: routing key ``fanout.<topic>``. Each ``subscribe(pattern)`` owns an
  exclusive, auto-delete queue ``E.fanout.<pattern>.<random>`` bound with
  ``fanout.<pattern>``, so every current subscriber gets every hint, and the queue goes
  away with its subscriber.
- ``serve(topic)``: the durable shared queue ``E.rpc.<topic>`` bound with ``rpc.<topic>``.
  Every server of the topic consumes from it (prefetch = its worker count) and acks after
  handling, so each request goes to one server, and a request in flight on a server that
  dies is redelivered to another. ``cast``/``call`` publish with routing key
  ``rpc.<topic>``, with publisher confirms, after declaring that queue themselves, so
  requests wait in it while no server runs. Casts are persistent (they survive a broker
  restart too); a call's request is transient and expires with the call's timeout.
- Replies: one exclusive queue per bus, ``E.reply.<random>``, through the default exchange,
  matched to calls by ``correlation_id``. Replies are confirmed too, and resent after a
  reconnect until the caller's timeout.
- Notifications: as oslo.messaging sends them. Topic exchange ``control_exchange``
  ("neutron"), routing key ``<topic>.<priority>`` ("notifications.info"), and a queue of
  that name bound with it, declared by the sender (durable and auto-delete as
  ``amqp_durable_queues``/``amqp_auto_delete`` say, oslo.messaging's defaults: neither),
  so notifications wait for Ceilometer or Designate to come.

Threads and connections (kombu connections are not thread-safe, so each connection has one
owner at a time):

- "publisher": one thread and connection sending from a bounded outbox. Callers only
  encode and enqueue, so a slow, blocked or absent broker never stalls them. Requests,
  replies and notifications are confirmed by the broker batch by batch (publish up to 256,
  then await their confirms together) and resent after a reconnect if unconfirmed. While it is
  disconnected, ``publish`` drops hints (logged; the periodic sync covers them), casts and
  notifications wait in the outbox until their deadline, calls until their timeout.
- "consumer": one thread and connection for every subscription and the reply queue. It
  waits on the socket, and takes the connection's lock only to read; ``subscribe`` (to
  declare at once) and the workers (to ack) take the same lock. Handlers run in worker
  threads, never in the consumer thread, so a slow handler never delays heartbeats.

Both connections send heartbeats (``heartbeat_timeout_threshold``) and reconnect on any
failure: the first attempt at once, then with exponential backoff and jitter, to the next
host of the URL each time. After a reconnect the consumer re-declares its queues and
bindings and consumes again; once both connections are back, ``on_reconnect`` callbacks
run (hints may have been missed: resync). While idle, the publisher waits on its socket as
well as on the outbox, so it sees a close from the broker at once. And when one connection
is lost, the other one (often closed by the same outage, its thread not knowing yet) counts
as connected again only after a round trip on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import random
import select
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Any

import amqp
import amqp.exceptions
import amqp.spec
import kombu
from kombu import Consumer, Exchange, Queue

from neutrino.bus.base import (
    Bus,
    BusClosed,
    BusError,
    BusTimeout,
    Handler,
    Mailbox,
    RateLimitedLog,
    ServeHandler,
    Subscription,
    WorkerPool,
    check_topic,
    decode,
    encode,
    reply_result,
    run_handler,
    serve_request,
)
from neutrino.bus.options import TransportHost, parse_transport_url

LOG = logging.getLogger(__name__)

_CAPABILITIES = {
    "authentication_failure_close": True,
    "connection.blocked": True,
    "consumer_cancel_notify": True,
}
HINT_TTL = 10.0  # seconds a hint may wait in the outbox (only while the link is flapping)
NOTIFICATION_TTL = 300.0  # ... a notification (Ceilometer bills from them)
SEND_TIMEOUT = 10.0  # socket write and publisher-confirm wait; past it the link is dead
CLOSE_FLUSH_TIMEOUT = 2.0  # close() sends what is still queued for at most this long
FANOUT_QUEUE_LIMIT = 10000  # hints buffered per subscription before the oldest are dropped


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


def _ping(chan: Any, timeout: float) -> None:
    """A round trip on ``chan`` that changes nothing (basic.qos with no limits, on a channel
    that consumes nothing): returns once the broker answered, raises if the connection was
    closed (the broker's connection.close comes instead of the answer) or is silent for
    ``timeout`` seconds."""
    chan.send_method(amqp.spec.Basic.Qos, "lBb", (0, 0, False))
    chan.wait(amqp.spec.Basic.QosOk, timeout=timeout)


def _discard(conn: kombu.Connection | None) -> None:
    """Drop a (possibly dead) connection without network I/O that could block."""
    if conn is None:
        return
    with contextlib.suppress(Exception):
        conn.collect()


@dataclass(slots=True, eq=False)
class _Out:
    """A message waiting in the outbox."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict
    confirm: bool  # publisher confirm, and resent after a reconnect (until the deadline)
    deadline: float  # monotonic; dropped when not sent by then
    declare: tuple | None = None  # ("rpc", topic) | ("notify", exchange, routing_key)
    what: str = "hint"


class _Pending:
    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: bytes | str | BaseException | None = None  # py-amqp may decode


class _RabbitSubscription(Subscription):
    """A subscription, a served topic or the reply queue, and its consumer state."""

    def __init__(self, bus: RabbitBus, topic: str, kind: str,
                 handler: Handler | ServeHandler | None, workers: int = 1) -> None:
        super().__init__(topic, kind)
        self._bus = bus
        self.handler = handler
        self.workers = max(1, workers)
        # Consumer state, guarded by the bus's consumer lock.
        self.channel: Any = None
        self.consumer: Consumer | None = None
        self.gen = 0  # consumer connection generation it was declared on
        self.queue_name: str | None = None
        self.declared = threading.Event()
        self.pool: WorkerPool | None = None
        if kind != "reply":
            limit = FANOUT_QUEUE_LIMIT if kind == "fanout" else None
            self.mailbox = Mailbox(limit, f"{kind}:{topic}")
            self.pool = WorkerPool(f"bus-{kind}-{topic}", self.mailbox, self._process,
                                   self.workers)

    def _process(self, item: tuple[int, Any]) -> None:
        self._bus._process(self, *item)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._unsubscribe(self)


class RabbitBus(Bus):
    """The bus over RabbitMQ. ``url`` is an oslo.messaging transport URL."""

    def __init__(
        self,
        url: str = "rabbit://guest:guest@127.0.0.1:5672/",
        *,
        exchange: str = "neutrino",
        control_exchange: str = "neutron",
        client_name: str | None = None,
        heartbeat: int = 60,
        heartbeat_rate: int = 3,
        retry_interval: float = 1.0,
        retry_backoff: float = 2.0,
        interval_max: float = 30.0,
        reconnect_delay: float = 1.0,
        durable_notifications: bool = False,
        auto_delete_notifications: bool = False,
        connect_timeout: float = 5.0,
        outbox_size: int = 10000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        parsed = parse_transport_url(url)
        if parsed.transport not in ("rabbit", "amqp", "kombu", "kombu+pyamqp"):
            raise ValueError(f"not a RabbitMQ transport URL: {parsed.transport}://")
        self._hosts = list(parsed.hosts) or [TransportHost("127.0.0.1")]
        random.shuffle(self._hosts)  # spread clients over a cluster, as oslo.messaging does
        self._host_index = 0
        self._vhost = parsed.virtual_host or "/"
        self.exchange = check_topic(exchange)
        self.control_exchange = control_exchange
        self.client_name = client_name or (
            f"{os.path.basename(sys.argv[0] or 'python')}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
        self._heartbeat = heartbeat
        self._hb_rate = max(1, heartbeat_rate)
        # Check heartbeats twice per sending period, at least every second.
        self._hb_step = min(1.0, heartbeat / self._hb_rate / 2) if heartbeat else 1.0
        self._retry = (retry_interval, retry_backoff, interval_max)
        self._reconnect_delay = reconnect_delay
        self._notif_durable = durable_notifications
        self._notif_auto_delete = auto_delete_notifications
        self._connect_timeout = connect_timeout
        self._exchange = Exchange(self.exchange, "topic", durable=True, auto_delete=False)

        self._closing = threading.Event()
        self._state_lock = threading.Lock()
        self._links: dict[str, bool] = {"publisher": False}
        # Links that are up but may be dead without knowing it yet: when one connection
        # is lost, the broker has often closed the other one too, and a thread learns that
        # only when it next reads its socket. A suspect link is not counted as connected
        # until its thread has made a round trip on it (``_ping``). Link -> suspicion number.
        self._suspect: dict[str, int] = {}
        self._suspicions = 0
        self._lost = False  # not (fully) connected since the last time we were
        self._ever_failed = False
        self.reconnects = 0  # times on_reconnect fired
        self.last_outage: float | None = None  # seconds the last outage lasted
        self._down_since: float | None = None

        # Publisher side.
        self._outbox: queue.Queue[_Out | None] = queue.Queue(outbox_size)
        self._resend: deque[_Out] = deque()
        # Wakes the publisher while it waits for the outbox and its socket (``_enqueue``
        # writes to it only while the publisher is waiting).
        self._pwake_r, self._pwake_w = os.pipe()
        for fd in (self._pwake_r, self._pwake_w):
            os.set_blocking(fd, False)
        self._publisher_waiting = False
        self._drop_log = RateLimitedLog(LOG)
        self._full_log = RateLimitedLog(LOG)
        self._pending: dict[str, _Pending] = {}

        # Consumer side.
        self._io = threading.RLock()
        self._subs: list[_RabbitSubscription] = []
        self._cconn: Any = None  # the consumer's py-amqp connection, when connected
        self._cgen = 0
        self._cbroken: BaseException | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._cping: Any = None  # a channel of the consumer connection for _ping
        self._consumer_thread: threading.Thread | None = None
        self._reply_sub: _RabbitSubscription | None = None
        self._reply_base = f"{self.exchange}.reply.{uuid.uuid4().hex}"

        self._publisher_thread = threading.Thread(
            target=self._publisher_main, name="bus-publisher", daemon=True)
        self._publisher_thread.start()

    # ---------------------------------------------------------------- public interface

    def publish(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closing.is_set():
            LOG.debug("bus: closed; dropping hint on %s", topic)
            return
        if not self._links["publisher"]:
            self._drop_log.warning(
                "bus: not connected to RabbitMQ; dropping hint on %s "
                "(agents catch up by their periodic sync)", topic)
            return
        self._enqueue(_Out(self.exchange, f"fanout.{topic}", data, {}, False,
                           time.monotonic() + HINT_TTL))

    def subscribe(self, topic: str, handler: Handler) -> Subscription:
        check_topic(topic, pattern=True)
        return self._add_subscription(_RabbitSubscription(self, topic, "fanout", handler))

    def serve(self, topic: str, handler: ServeHandler, *, workers: int = 1) -> Subscription:
        check_topic(topic)
        return self._add_subscription(
            _RabbitSubscription(self, topic, "serve", handler, workers))

    def cast(self, topic: str, message: dict) -> None:
        check_topic(topic)
        data = encode(message)
        if self._closing.is_set():
            LOG.debug("bus: closed; dropping cast to %s", topic)
            return
        self._enqueue(_Out(self.exchange, f"rpc.{topic}", data, {"delivery_mode": 2}, True,
                           time.monotonic() + self.rpc_response_timeout, ("rpc", topic),
                           "cast"))

    def call(self, topic: str, request: dict, timeout: float | None = None) -> dict:
        check_topic(topic)
        timeout = self.rpc_response_timeout if timeout is None else float(timeout)
        data = encode(request)
        if self._closing.is_set():
            raise BusClosed("bus closed")
        deadline = time.monotonic() + timeout
        reply_to = self._reply_queue(deadline)
        if reply_to is None:
            raise BusTimeout(f"no connection to RabbitMQ within {timeout:g}s (call {topic!r})")
        cid = uuid.uuid4().hex
        pending = self._pending[cid] = _Pending()
        try:
            # Transient: useless after the caller's timeout, so not worth an fsync.
            props = {
                "correlation_id": cid,
                "reply_to": reply_to,
                "delivery_mode": 1,
                "expiration": str(max(1, int(timeout * 1000))),
            }
            if not self._enqueue(_Out(self.exchange, f"rpc.{topic}", data, props, True,
                                      deadline, ("rpc", topic), "call")):
                raise BusTimeout(f"bus outbox full; call to {topic!r} not sent")
            if not pending.event.wait(max(0.0, deadline - time.monotonic())):
                raise BusTimeout(f"no reply from {topic!r} within {timeout:g}s")
        finally:
            self._pending.pop(cid, None)
        if isinstance(pending.reply, BaseException):
            raise pending.reply
        assert pending.reply is not None
        return reply_result(decode(pending.reply))

    def _send_notification(self, routing_key: str, body: dict) -> None:
        if self._closing.is_set():
            return
        # What kombu's json serializer makes of oslo.messaging's dict.
        data = json.dumps(body).encode()
        self._enqueue(_Out(self.control_exchange, routing_key, data, {"delivery_mode": 2},
                           True, time.monotonic() + NOTIFICATION_TTL,
                           ("notify", self.control_exchange, routing_key), "notification"))

    @property
    def connected(self) -> bool:
        with self._state_lock:
            return self._connected_locked()

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        with self._io:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        self._wake()
        if self._consumer_thread is not None:
            self._consumer_thread.join(5.0)
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)  # wake the publisher; it flushes, then exits
        self._wake_publisher()
        self._publisher_thread.join(CLOSE_FLUSH_TIMEOUT + SEND_TIMEOUT)
        for pending in list(self._pending.values()):
            pending.reply = BusClosed("bus closed")
            pending.event.set()
        for fd in (self._wake_r, self._wake_w, self._pwake_r, self._pwake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # ---------------------------------------------------------------- connection state

    def _connected_locked(self) -> bool:
        return (not self._closing.is_set() and all(self._links.values())
                and not self._suspect)

    def _link_state(self, which: str, up: bool) -> None:
        """``which`` connected (a new connection, every consumer declared) or was lost."""
        suspects: list[str] = []
        with self._state_lock:
            before = self._connected_locked()
            self._links[which] = up
            self._suspect.pop(which, None)  # a new connection is known to work
            if not up and not self._closing.is_set():
                self._lost = True
                # The same outage has probably closed the other connection as well: it
                # does not count until it has answered once (see _suspect).
                for other, other_up in self._links.items():
                    if other != which and other_up:
                        self._suspicions += 1
                        self._suspect[other] = self._suspicions
                        suspects.append(other)
            fire = self._state_changed_locked(before)
        for other in suspects:
            self._wake_link(other)
        if fire:
            self._after_reconnect()

    def _suspicion(self, which: str) -> int | None:
        """The number of the suspicion on link ``which`` if it must be pinged."""
        with self._state_lock:
            return self._suspect.get(which)

    def _link_verified(self, which: str, suspicion: int) -> None:
        """Link ``which`` answered a ping sent after suspicion ``suspicion`` was raised."""
        with self._state_lock:
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
        self._fire_reconnect()

    def _wake_link(self, which: str) -> None:
        if which == "publisher":
            self._wake_publisher()
        else:
            self._wake()

    def _connect_failed(self, which: str, exc: BaseException, attempt: int,
                        delay: float) -> None:
        with self._state_lock:
            self._lost = True
            self._ever_failed = True
        log = LOG.warning if attempt == 1 or attempt % 10 == 0 else LOG.debug
        log("bus: %s cannot connect to RabbitMQ (%s: %s); retrying in %.1fs",
            which, type(exc).__name__, exc, delay)

    def _broker_seems_up(self) -> bool:
        with self._state_lock:
            return self._links["publisher"] or not self._ever_failed

    def _connect(self, purpose: str) -> tuple[kombu.Connection, Any]:
        """One attempt to connect to the next host; returns (kombu, py-amqp) connections.

        The py-amqp connection is used directly from then on: kombu's ``connection``
        property would silently reconnect a dead connection behind our back."""
        host = self._hosts[self._host_index % len(self._hosts)]
        hostname = f"[{host.hostname}]" if ":" in host.hostname else host.hostname
        conn = kombu.Connection(
            hostname=hostname or "127.0.0.1",
            port=host.port or 5672,
            userid=host.username or "guest",
            password=host.password or "guest",
            virtual_host=self._vhost,
            transport="pyamqp",
            heartbeat=self._heartbeat,
            connect_timeout=self._connect_timeout,
            transport_options={
                "client_properties": {
                    "connection_name": f"{self.client_name}:{purpose}",
                    "capabilities": _CAPABILITIES,
                },
                "read_timeout": SEND_TIMEOUT * 3,
                "write_timeout": SEND_TIMEOUT,
                "on_blocked": partial(self._on_blocked, purpose),
                "on_unblocked": partial(self._on_unblocked, purpose),
            },
        )
        try:
            conn.ensure_connection(max_retries=0)
            raw = conn.connection
        except BaseException:
            self._host_index += 1
            _discard(conn)
            raise
        LOG.debug("bus: %s connected to %s:%s", purpose, host.hostname, host.port or 5672)
        return conn, raw

    def _on_blocked(self, purpose: str, reason: str = "") -> None:
        LOG.warning("bus: RabbitMQ blocks the %s connection (%s); messages wait or are "
                    "dropped", purpose, reason)

    def _on_unblocked(self, purpose: str) -> None:
        LOG.info("bus: RabbitMQ unblocked the %s connection", purpose)

    def _delay(self, attempt: int) -> float:
        return backoff_delay(attempt, *self._retry)

    # ---------------------------------------------------------------- publisher thread

    def _enqueue(self, item: _Out) -> bool:
        try:
            self._outbox.put_nowait(item)
        except queue.Full:
            self._full_log.warning("bus: outbox full; dropping %s to %s", item.what,
                                   item.routing_key)
            return False
        if self._publisher_waiting:
            self._wake_publisher()
        return True

    def _wake_publisher(self) -> None:
        with contextlib.suppress(OSError):  # full (it is woken anyway) or closed
            os.write(self._pwake_w, b"x")

    def _publisher_main(self) -> None:
        failures = 0
        delay = 0.0
        while True:
            if (delay and self._closing.wait(delay)) or self._closing.is_set():
                self._drop_outbox("bus closed while disconnected")
                return
            try:
                conn, raw = self._connect("publisher")
            except Exception as exc:
                failures += 1
                delay = self._delay(failures)
                self._connect_failed("publisher", exc, failures, delay)
                self._purge_outbox()
                continue
            failures = 0
            try:
                session = _PublisherSession(self, raw)
                self._link_state("publisher", True)
                self._publisher_loop(session)
            except Exception as exc:
                if not self._closing.is_set():
                    LOG.warning("bus: publisher connection lost (%s: %s); reconnecting",
                                type(exc).__name__, exc)
                self._link_state("publisher", False)
                _discard(conn)
                delay = self._delay(0)  # the first retry goes almost at once
                continue
            # closing, and the outbox is flushed
            self._link_state("publisher", False)
            with contextlib.suppress(Exception):
                raw.close()
            _discard(conn)
            self._drop_outbox("bus closed")
            return

    def _publisher_loop(self, session: _PublisherSession) -> None:
        """Send batches from the outbox: every message of a batch is published, then the
        broker's confirms for all of them are awaited together (one fsync wait per batch,
        not per message). What was not confirmed when the connection broke is resent after
        the reconnect: at least once."""
        raw = session.raw
        next_check = 0.0
        flush_until: float | None = None
        while True:
            if self._closing.is_set():
                if flush_until is None:
                    flush_until = time.monotonic() + CLOSE_FLUSH_TIMEOUT
                if (not self._resend and self._outbox.empty()) or \
                        time.monotonic() > flush_until:
                    return
            suspicion = self._suspicion("publisher")
            if suspicion is not None:  # the consumer connection was lost: is this one up?
                session.ping()
                self._link_verified("publisher", suspicion)
            batch = self._next_batch(
                session, max(0.0, min(0.5, next_check - time.monotonic())))
            try:
                while batch:
                    item = batch[0]
                    if item.deadline < time.monotonic():
                        LOG.debug("bus: %s to %s expired before it could be sent",
                                  item.what, item.routing_key)
                    else:
                        try:
                            session.send(item)
                        except amqp.exceptions.ChannelError as exc:
                            # Refused by the broker (access, arguments): a retry won't help.
                            LOG.error("bus: RabbitMQ refused %s to %s/%s: %s", item.what,
                                      item.exchange, item.routing_key, exc)
                            session.reset()
                    batch.popleft()
                session.wait_confirms(SEND_TIMEOUT)
            except Exception:
                unsent = [i for i in (*session.take_unconfirmed(), *batch) if i.confirm]
                self._resend.extendleft(reversed(unsent))
                raise
            if time.monotonic() >= next_check:
                session.pump()
                raw.heartbeat_tick(rate=self._hb_rate)
                next_check = time.monotonic() + self._hb_step

    def _next_batch(self, session: _PublisherSession, timeout: float,
                    size: int = 256) -> deque[_Out]:
        batch: deque[_Out] = deque()
        while self._resend and len(batch) < size:
            batch.append(self._resend.popleft())
        if not batch:
            item = self._wait_outbox(session, timeout)
            if item is None:
                return batch
            batch.append(item)
        while len(batch) < size:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        return batch

    def _wait_outbox(self, session: _PublisherSession, timeout: float) -> _Out | None:
        """The next message of the outbox, waiting for one at most ``timeout`` seconds.
        While waiting, read what the broker sends: a connection it closes is noticed at
        once, not when the next message is written into it (and lost with it)."""
        with contextlib.suppress(queue.Empty):
            return self._outbox.get_nowait()
        self._publisher_waiting = True  # from now on _enqueue wakes us
        try:
            with contextlib.suppress(queue.Empty):
                return self._outbox.get_nowait()
            if self._suspicion("publisher") is not None:
                return None  # ping first
            readable, _, _ = select.select([session.sock, self._pwake_r], [], [], timeout)
        finally:
            self._publisher_waiting = False
        if self._pwake_r in readable:
            with contextlib.suppress(OSError):
                os.read(self._pwake_r, 4096)
        if session.sock in readable:
            _drain(session.raw, 1000)  # raises if the broker closed the connection
        with contextlib.suppress(queue.Empty):
            return self._outbox.get_nowait()
        return None

    def _purge_outbox(self) -> None:
        """While disconnected: drop what expired and every hint (never sent late)."""
        kept: list[_Out] = []
        now = time.monotonic()
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                break
            if item is not None and item.confirm and item.deadline > now:
                kept.append(item)
        self._resend = deque(i for i in self._resend if i.deadline > now)
        for item in kept:
            if not self._enqueue(item):
                break

    def _drop_outbox(self, why: str) -> None:
        n = len(self._resend)
        self._resend.clear()
        while True:
            try:
                if self._outbox.get_nowait() is not None:
                    n += 1
            except queue.Empty:
                break
        if n:
            LOG.warning("bus: %s; %d queued message(s) not sent", why, n)

    # ---------------------------------------------------------------- consumer thread

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _mark_broken(self, exc: BaseException) -> None:
        with self._io:
            if self._cbroken is None:
                self._cbroken = exc
        self._wake()

    def _ensure_consumer(self) -> None:
        with self._state_lock:
            if self._consumer_thread is not None or self._closing.is_set():
                return
            self._links["consumer"] = False
            self._consumer_thread = threading.Thread(
                target=self._consumer_main, name="bus-consumer", daemon=True)
        self._consumer_thread.start()

    def _add_subscription(self, sub: _RabbitSubscription,
                          wait: float | None = None) -> _RabbitSubscription:
        if self._closing.is_set():
            if sub.pool:
                sub.pool.stop()
            raise BusClosed("bus closed")
        with self._io:
            self._subs.append(sub)
            if self._cconn is not None and self._cbroken is None:
                try:
                    self._declare(sub)
                except amqp.exceptions.ChannelError as exc:
                    self._subs.remove(sub)
                    if sub.pool:
                        sub.pool.stop()
                    raise BusError(f"RabbitMQ refused {sub.kind} {sub.topic!r}: {exc}") from exc
                except Exception as exc:
                    self._mark_broken(exc)
        self._ensure_consumer()
        if wait is None:
            wait = self._connect_timeout if self._broker_seems_up() else 0.0
        if wait > 0:
            sub.declared.wait(wait)
        return sub

    def _unsubscribe(self, sub: _RabbitSubscription) -> None:
        with self._io:
            if sub in self._subs:
                self._subs.remove(sub)
            if (sub.consumer is not None and self._cconn is not None
                    and self._cbroken is None and not self._closing.is_set()):
                try:
                    # Cancelling lets the broker delete an auto-delete queue; closing the
                    # channel requeues what this server had not acked yet.
                    # (When the bus closes, closing the connection does all that.)
                    sub.consumer.cancel()
                    sub.channel.close()
                except Exception as exc:
                    self._mark_broken(exc)
            sub.channel = sub.consumer = None
            sub.declared.clear()
        if sub.pool is not None:
            sub.pool.stop()
            sub.mailbox.clear()

    def _reply_queue(self, deadline: float) -> str | None:
        """The name of this bus's reply queue once it is consumed, or None by deadline."""
        with self._io:
            sub = self._reply_sub
            new = sub is None
            if sub is None:
                sub = self._reply_sub = _RabbitSubscription(self, "reply", "reply", None)
                sub.queue_name = self._reply_base
        if new:
            self._add_subscription(sub, wait=0.0)
        if sub.declared.wait(max(0.0, deadline - time.monotonic())):
            return sub.queue_name
        return None

    def _declare(self, sub: _RabbitSubscription) -> None:
        """Declare ``sub``'s queue and binding on the consumer connection and consume it.
        Caller holds the consumer lock."""
        raw = self._cconn
        chan = raw.channel()
        try:
            if sub.kind == "fanout":
                safe = sub.topic.replace("*", "star").replace("#", "hash")
                q = Queue(f"{self.exchange}.fanout.{safe}.{uuid.uuid4().hex[:12]}",
                          self._exchange, routing_key=f"fanout.{sub.topic}",
                          durable=False, exclusive=True, auto_delete=True)
                no_ack, prefetch = True, None
            elif sub.kind == "serve":
                q = Queue(self._rpc_queue(sub.topic), self._exchange,
                          routing_key=f"rpc.{sub.topic}", durable=True, auto_delete=False)
                no_ack, prefetch = False, sub.workers
            else:
                q = Queue(sub.queue_name, durable=False, exclusive=True, auto_delete=True)
                no_ack, prefetch = True, None
            try:
                consumer = Consumer(chan, queues=[q], no_ack=no_ack, prefetch_count=prefetch,
                                    on_message=partial(self._on_message, sub, self._cgen))
            except amqp.exceptions.ResourceLocked:
                if sub.kind != "reply":
                    raise
                # Our old reply queue still belongs to a connection the broker has not
                # yet found dead: take a new name (replies to the old one are lost).
                with contextlib.suppress(Exception):
                    chan.close()
                chan = raw.channel()
                sub.queue_name = f"{self._reply_base}.{uuid.uuid4().hex[:6]}"
                q = Queue(sub.queue_name, durable=False, exclusive=True, auto_delete=True)
                consumer = Consumer(chan, queues=[q], no_ack=True,
                                    on_message=partial(self._on_message, sub, self._cgen))
            consumer.consume()
        except BaseException:
            with contextlib.suppress(Exception):
                chan.close()
            raise
        sub.channel, sub.consumer, sub.gen, sub.queue_name = chan, consumer, self._cgen, q.name
        sub.declared.set()

    def _rpc_queue(self, topic: str) -> str:
        return f"{self.exchange}.rpc.{topic}"

    def _consumer_main(self) -> None:
        failures = 0
        delay = 0.0
        while not self._closing.is_set():
            if delay and self._closing.wait(delay):
                break
            try:
                conn, raw = self._connect("consumer")
            except Exception as exc:
                failures += 1
                delay = self._delay(failures)
                self._connect_failed("consumer", exc, failures, delay)
                continue
            failures = 0
            delay = self._delay(0)  # after a loss the first retry goes almost at once
            try:
                with self._io:
                    self._cconn = raw
                    self._cbroken = None
                    self._cgen += 1
                    self._cping = raw.channel()
                    for sub in list(self._subs):
                        try:
                            self._declare(sub)
                        except amqp.exceptions.ChannelError as exc:
                            LOG.error("bus: RabbitMQ refused %s %r: %s (retried after the "
                                      "next reconnect)", sub.kind, sub.topic, exc)
                self._link_state("consumer", True)
                self._consume_loop(raw)
            except Exception as exc:
                if not self._closing.is_set():
                    LOG.warning("bus: consumer connection lost (%s: %s); reconnecting",
                                type(exc).__name__, exc)
                if isinstance(exc, amqp.exceptions.ConsumerCancelled):
                    delay = max(delay, self._reconnect_delay)  # a queue was deleted under us
            finally:
                with self._io:
                    self._cconn = self._cping = None
                    for sub in self._subs:
                        sub.channel = sub.consumer = None
                        sub.declared.clear()
                self._link_state("consumer", False)
                if self._closing.is_set():
                    with contextlib.suppress(Exception):
                        raw.close()
                _discard(conn)

    def _consume_loop(self, raw: Any) -> None:
        sock = raw.sock
        next_hb = 0.0
        while not self._closing.is_set():
            if self._cbroken is not None:
                raise self._cbroken
            suspicion = self._suspicion("consumer")
            if suspicion is not None:  # the publisher connection was lost: is this one up?
                with self._io:
                    _ping(self._cping, SEND_TIMEOUT)
                self._link_verified("consumer", suspicion)
            timeout = max(0.0, min(1.0, next_hb - time.monotonic()))
            readable, _, _ = select.select([sock, self._wake_r], [], [], timeout)
            if self._wake_r in readable:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            with self._io:
                if self._cbroken is not None:
                    raise self._cbroken
                if sock in readable:
                    _drain(raw)
                if time.monotonic() >= next_hb:
                    raw.heartbeat_tick(rate=self._hb_rate)
                    next_hb = time.monotonic() + self._hb_step

    def _on_message(self, sub: _RabbitSubscription, gen: int, message: Any) -> None:
        """In the consumer thread, consumer lock held: hand the message on, quickly."""
        if sub.kind == "reply":
            cid = message.properties.get("correlation_id")
            pending = self._pending.get(cid) if cid else None
            if pending is None:
                LOG.debug("bus: reply %s came after its call gave up", cid)
                return
            pending.reply = message.body
            pending.event.set()
            return
        if sub.active:
            sub.mailbox.put((gen, message))

    def _process(self, sub: _RabbitSubscription, gen: int, message: Any) -> None:
        """In a worker thread: run the handler; for a request, reply and ack."""
        if sub.kind == "fanout":
            try:
                body = decode(message.body)
            except Exception as exc:
                LOG.error("bus: undecodable hint on %s dropped: %s", sub.topic, exc)
                return
            run_handler(sub.handler, body, sub.topic)  # type: ignore[arg-type]
            return
        if gen != sub.gen or not sub.active:
            return  # its channel is gone: the broker gives the request to a server again
        try:
            request = decode(message.body)
        except Exception as exc:
            LOG.error("bus: undecodable request on %s dropped: %s", sub.topic, exc)
            self._ack(sub, gen, message)
            return
        props = message.properties
        reply_to, cid = props.get("reply_to"), props.get("correlation_id")
        # The caller waits at most as long as its request could wait in the queue.
        wait = self.rpc_response_timeout
        with contextlib.suppress(TypeError, ValueError):
            wait = min(wait, int(props.get("expiration")) / 1000)
        deadline = time.monotonic() + wait
        reply = serve_request(sub.handler, request, sub.topic,  # type: ignore[arg-type]
                              expect_reply=bool(reply_to))
        if reply_to and cid:
            # Confirmed, so resent after a reconnect: a reply written into a connection the
            # broker had just closed (the publisher had not read its close yet) is lost
            # otherwise, and the caller times out although its request was served.
            self._enqueue(_Out("", reply_to, encode(reply), {"correlation_id": cid}, True,
                               deadline, None, "reply"))
        self._ack(sub, gen, message)

    def _ack(self, sub: _RabbitSubscription, gen: int, message: Any) -> None:
        with self._io:
            if sub.gen != gen or sub.channel is None or self._cbroken is not None:
                return
            try:
                message.ack()
            except Exception as exc:
                self._mark_broken(exc)


def _drain(raw: Any, max_frames: int = 3000) -> None:
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


class _PublisherSession:
    """The publisher's channels on one connection: one for hints and replies, one in
    confirm mode for requests and notifications; and what has been declared on them."""

    def __init__(self, bus: RabbitBus, raw: Any) -> None:
        self.bus = bus
        self.raw = raw
        self.sock = raw.sock
        self.fast: Any = None
        self.confirm: Any = None
        self.unconfirmed: dict[int, _Out] = {}
        self.reset()

    def reset(self) -> None:
        for chan in (self.fast, self.confirm):
            if chan is not None and chan.is_open:
                with contextlib.suppress(Exception):
                    chan.close()
        lost = self.take_unconfirmed()
        if lost:
            LOG.error("bus: %d message(s) lost with a channel RabbitMQ closed", len(lost))
        self.fast = self.raw.channel()
        self._new_confirm()
        self.declared: set[tuple] = set()
        # Hints go to the bus exchange without a declare each time: declare it once.
        self.fast.exchange_declare(self.bus.exchange, "topic", durable=True,
                                   auto_delete=False)

    def _new_confirm(self) -> Any:
        chan = self.raw.channel()
        chan.confirm_select()
        chan.events["basic_ack"].add(self._on_ack)
        chan.events["basic_nack"].add(self._on_nack)
        self.confirm = chan
        self.tag = 0  # publish sequence numbers start again on a new channel
        return chan

    def _settle(self, tag: int, multiple: bool) -> list[_Out]:
        if not multiple:
            item = self.unconfirmed.pop(tag, None)
            return [item] if item is not None else []
        done = [t for t in self.unconfirmed if t <= tag]
        return [self.unconfirmed.pop(t) for t in done]

    def _on_ack(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        items = self._settle(tag, multiple)
        LOG.warning("bus: RabbitMQ could not take %d message(s); resending", len(items))
        self.bus._resend.extend(items)

    def take_unconfirmed(self) -> list[_Out]:
        items = [self.unconfirmed[t] for t in sorted(self.unconfirmed)]
        self.unconfirmed.clear()
        return items

    def send(self, item: _Out) -> None:
        if item.declare and item.declare not in self.declared:
            # A declaration is a synchronous exchange with the broker; a channel error in
            # it closes the channel, so let nothing be in flight on it.
            self.wait_confirms(SEND_TIMEOUT)
            self._declare(item.declare)
            self.declared.add(item.declare)
        props = item.properties
        if "expiration" in props:  # a call's request expires when its caller gives up
            remaining = item.deadline - time.monotonic()
            props = {**props, "expiration": str(max(1, int(remaining * 1000)))}
        msg = amqp.Message(item.body, content_type="application/json",
                           content_encoding="utf-8", **props)
        if item.confirm:
            self.confirm.basic_publish(msg, exchange=item.exchange,
                                       routing_key=item.routing_key, timeout=SEND_TIMEOUT)
            self.tag += 1
            self.unconfirmed[self.tag] = item
        else:
            self.fast.basic_publish(msg, exchange=item.exchange,
                                    routing_key=item.routing_key, timeout=SEND_TIMEOUT)

    def wait_confirms(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} publisher confirm(s) overdue")
            with contextlib.suppress(TimeoutError):
                self.raw.drain_events(timeout=remaining)

    def _declare(self, what: tuple) -> None:
        bus = self.bus
        if what[0] == "rpc":
            topic = what[1]
            Queue(bus._rpc_queue(topic), bus._exchange, routing_key=f"rpc.{topic}",
                  durable=True, auto_delete=False)(self.confirm).declare()
            return
        _, exchange, rk = what
        durable, auto_delete = bus._notif_durable, bus._notif_auto_delete
        chan = self.confirm
        try:
            chan.exchange_declare(exchange, "topic", durable=durable, auto_delete=auto_delete)
        except amqp.exceptions.PreconditionFailed as exc:
            # Declared first by someone configured otherwise (oslo.messaging works around
            # this the same way): use the exchange as it is.
            LOG.warning("bus: exchange %s exists with other flags (%s); using it", exchange,
                        exc)
            chan = self._new_confirm()
            chan.exchange_declare(exchange, "topic", passive=True)
        try:
            chan.queue_declare(rk, durable=durable, auto_delete=auto_delete)
        except amqp.exceptions.PreconditionFailed as exc:
            LOG.warning("bus: queue %s exists with other flags (%s); using it", rk, exc)
            chan = self._new_confirm()
            chan.queue_declare(rk, passive=True)
        chan.queue_bind(rk, exchange, rk)

    def ping(self) -> None:
        """Check that the connection still works (a round trip); raises if it does not."""
        _ping(self.fast, SEND_TIMEOUT)

    def pump(self) -> None:
        """Read what the broker sent (heartbeats, connection.blocked, a close)."""
        if select.select([self.sock], [], [], 0)[0]:
            _drain(self.raw, 1000)
