"""The RabbitMQ bus's publisher: one thread and connection sending from a bounded outbox.

Callers only encode and enqueue, so a slow, blocked or absent broker never stalls them.
Requests, replies and notifications are confirmed by the broker batch by batch (publish up
to 256, then await their confirms together) and resent after a reconnect if unconfirmed.
While idle, the publisher waits on its socket as well as on the outbox, so it sees a close
from the broker at once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import select
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import amqp
import amqp.exceptions
from kombu import Exchange

from neutrino.bus.base import RateLimitedLog
from neutrino.bus.rabbit_link import (
    SEND_TIMEOUT,
    Connector,
    LinkState,
    WakePipe,
    discard,
    drain,
    ping,
    rpc_queue,
)

LOG = logging.getLogger("neutrino.bus.rabbit")

CLOSE_FLUSH_TIMEOUT = 2.0  # close() sends what is still queued for at most this long


@dataclass(slots=True, eq=False)
class Out:
    """A message waiting in the outbox."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict
    confirm: bool  # publisher confirm, and resent after a reconnect (until the deadline)
    deadline: float  # monotonic; dropped when not sent by then
    declare: tuple | None = None  # ("rpc", topic) | ("notify", exchange, routing_key)
    what: str = "hint"


@dataclass(frozen=True, slots=True)
class NotificationQueues:
    """How notification exchanges and queues are declared (``amqp_durable_queues``,
    ``amqp_auto_delete``)."""

    durable: bool = False
    auto_delete: bool = False


class _Session:
    """The publisher's channels on one connection: one for hints and replies, one in
    confirm mode for requests and notifications; and what has been declared on them."""

    def __init__(self, publisher: Publisher, raw: Any) -> None:
        self.publisher = publisher
        self.raw = raw
        self.sock = raw.sock
        self.fast: Any = None
        self.confirm: Any = None
        self.unconfirmed: dict[int, Out] = {}
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
        self.fast.exchange_declare(self.publisher.exchange.name, "topic", durable=True,
                                   auto_delete=False)

    def _new_confirm(self) -> Any:
        chan = self.raw.channel()
        chan.confirm_select()
        chan.events["basic_ack"].add(self._on_ack)
        chan.events["basic_nack"].add(self._on_nack)
        self.confirm = chan
        self.tag = 0  # publish sequence numbers start again on a new channel
        return chan

    def _settle(self, tag: int, multiple: bool) -> list[Out]:
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
        self.publisher.resend.extend(items)

    def take_unconfirmed(self) -> list[Out]:
        items = [self.unconfirmed[t] for t in sorted(self.unconfirmed)]
        self.unconfirmed.clear()
        return items

    def send(self, item: Out) -> None:
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
        if what[0] == "rpc":
            rpc_queue(self.publisher.exchange, what[1])(self.confirm).declare()
            return
        _, exchange, rk = what
        notif = self.publisher.notifications
        durable, auto_delete = notif.durable, notif.auto_delete
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
        ping(self.fast, SEND_TIMEOUT)

    def pump(self) -> None:
        """Read what the broker sent (heartbeats, connection.blocked, a close)."""
        if select.select([self.sock], [], [], 0)[0]:
            drain(self.raw, 1000)


class Publisher:
    """The "publisher" link: its thread, connection and outbox. While it is disconnected,
    casts and notifications wait in the outbox until their deadline, calls until their
    timeout; hints are dropped by the bus before they get here."""

    def __init__(self, *, exchange: Exchange, connector: Connector, link: LinkState,
                 closing: threading.Event, outbox_size: int,
                 notifications: NotificationQueues) -> None:
        self.exchange = exchange
        self.notifications = notifications
        self._connector = connector
        self._link = link
        self._closing = closing
        self._outbox: queue.Queue[Out | None] = queue.Queue(outbox_size)
        self.resend: deque[Out] = deque()
        # Wakes the publisher while it waits for the outbox and its socket (``enqueue``
        # writes to it only while the publisher is waiting).
        self._pipe = WakePipe()
        self._waiting = False
        self._full_log = RateLimitedLog(LOG)
        link.add("publisher", self._pipe.wake)
        self._thread = threading.Thread(target=self._main, name="bus-publisher", daemon=True)
        self._thread.start()

    def enqueue(self, item: Out) -> bool:
        try:
            self._outbox.put_nowait(item)
        except queue.Full:
            self._full_log.warning("bus: outbox full; dropping %s to %s", item.what,
                                   item.routing_key)
            return False
        if self._waiting:
            self._pipe.wake()
        return True

    def stop(self) -> None:
        """After ``closing`` is set: flush what is queued for a little while, then stop."""
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)  # wake the publisher; it flushes, then exits
        self._pipe.wake()
        self._thread.join(CLOSE_FLUSH_TIMEOUT + SEND_TIMEOUT)

    def close_fds(self) -> None:
        self._pipe.close()

    def _main(self) -> None:
        failures = 0
        delay = 0.0
        while True:
            if (delay and self._closing.wait(delay)) or self._closing.is_set():
                self._drop_outbox("bus closed while disconnected")
                return
            try:
                conn, raw = self._connector.connect("publisher")
            except Exception as exc:
                failures += 1
                delay = self._connector.delay(failures)
                self._link.connect_failed("publisher", exc, failures, delay)
                self._purge_outbox()
                continue
            failures = 0
            try:
                session = _Session(self, raw)
                self._link.set("publisher", True)
                self._loop(session)
            except Exception as exc:
                if not self._closing.is_set():
                    LOG.warning("bus: publisher connection lost (%s: %s); reconnecting",
                                type(exc).__name__, exc)
                self._link.set("publisher", False)
                discard(conn)
                delay = self._connector.delay(0)  # the first retry goes almost at once
                continue
            # closing, and the outbox is flushed
            self._link.set("publisher", False)
            with contextlib.suppress(Exception):
                raw.close()
            discard(conn)
            self._drop_outbox("bus closed")
            return

    def _loop(self, session: _Session) -> None:
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
                if (not self.resend and self._outbox.empty()) or \
                        time.monotonic() > flush_until:
                    return
            suspicion = self._link.suspicion("publisher")
            if suspicion is not None:  # the consumer connection was lost: is this one up?
                session.ping()
                self._link.verified("publisher", suspicion)
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
                self.resend.extendleft(reversed(unsent))
                raise
            if time.monotonic() >= next_check:
                session.pump()
                raw.heartbeat_tick(rate=self._connector.hb_rate)
                next_check = time.monotonic() + self._connector.hb_step

    def _next_batch(self, session: _Session, timeout: float, size: int = 256) -> deque[Out]:
        batch: deque[Out] = deque()
        while self.resend and len(batch) < size:
            batch.append(self.resend.popleft())
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

    def _wait_outbox(self, session: _Session, timeout: float) -> Out | None:
        """The next message of the outbox, waiting for one at most ``timeout`` seconds.
        While waiting, read what the broker sends: a connection it closes is noticed at
        once, not when the next message is written into it (and lost with it)."""
        with contextlib.suppress(queue.Empty):
            return self._outbox.get_nowait()
        self._waiting = True  # from now on enqueue wakes us
        try:
            with contextlib.suppress(queue.Empty):
                return self._outbox.get_nowait()
            if self._link.suspicion("publisher") is not None:
                return None  # ping first
            readable, _, _ = select.select([session.sock, self._pipe.fd], [], [], timeout)
        finally:
            self._waiting = False
        if self._pipe.fd in readable:
            self._pipe.clear()
        if session.sock in readable:
            drain(session.raw, 1000)  # raises if the broker closed the connection
        with contextlib.suppress(queue.Empty):
            return self._outbox.get_nowait()
        return None

    def _purge_outbox(self) -> None:
        """While disconnected: drop what expired and every hint (never sent late)."""
        kept: list[Out] = []
        now = time.monotonic()
        while True:
            try:
                item = self._outbox.get_nowait()
            except queue.Empty:
                break
            if item is not None and item.confirm and item.deadline > now:
                kept.append(item)
        self.resend = deque(i for i in self.resend if i.deadline > now)
        for item in kept:
            if not self.enqueue(item):
                break

    def _drop_outbox(self, why: str) -> None:
        n = len(self.resend)
        self.resend.clear()
        while True:
            try:
                if self._outbox.get_nowait() is not None:
                    n += 1
            except queue.Empty:
                break
        if n:
            LOG.warning("bus: %s; %d queued message(s) not sent", why, n)
