"""The RabbitMQ bus's consumer: one thread and connection for every subscription, served
topic and the reply queue.

The thread waits on the socket, and takes the connection's lock only to read;
``subscribe`` (to declare at once) and the workers (to ack) take the same lock. Handlers
run in worker threads, never in the consumer thread, so a slow handler never delays
heartbeats. After a reconnect the consumer re-declares its queues and bindings and
consumes again.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import amqp.exceptions
from kombu import Consumer as KombuConsumer
from kombu import Exchange, Queue

from neutrino.bus.base import (
    BusClosed,
    BusError,
    Handler,
    Mailbox,
    ServeHandler,
    Subscription,
    WorkerPool,
    decode,
    encode,
    run_handler,
    serve_request,
)
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
from neutrino.bus.rabbit_publisher import Out

LOG = logging.getLogger("neutrino.bus.rabbit")

FANOUT_QUEUE_LIMIT = 10000  # hints buffered per subscription before the oldest are dropped


class Pending:
    """A call waiting for its reply."""

    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: bytes | str | BaseException | None = None  # py-amqp may decode


class RabbitSubscription(Subscription):
    """A subscription, a served topic or the reply queue, and its consumer state."""

    def __init__(self, owner: Consumer, topic: str, kind: str,
                 handler: Handler | ServeHandler | None, workers: int = 1) -> None:
        super().__init__(topic, kind)
        self._owner = owner
        self.handler = handler
        self.workers = max(1, workers)
        # Consumer state, guarded by the consumer lock.
        self.channel: Any = None
        self.consumer: KombuConsumer | None = None
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
        self._owner.process(self, *item)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._owner.unsubscribe(self)


class Consumer:
    """The "consumer" link: its thread (started with the first subscription or call), its
    connection and what is consumed on it. Replies to served requests go out through
    ``send``."""

    def __init__(self, *, exchange: Exchange, connector: Connector, link: LinkState,
                 closing: threading.Event, send: Callable[[Out], bool],
                 rpc_response_timeout: float, reconnect_delay: float) -> None:
        self.exchange = exchange
        self._connector = connector
        self._link = link
        self._closing = closing
        self._send = send
        self._rpc_response_timeout = rpc_response_timeout
        self._reconnect_delay = reconnect_delay
        self.pending: dict[str, Pending] = {}  # calls waiting for replies, by correlation id
        self._io = threading.RLock()
        self._subs: list[RabbitSubscription] = []
        self._cconn: Any = None  # the py-amqp connection, when connected
        self._cgen = 0
        self._cbroken: BaseException | None = None
        self._pipe = WakePipe()
        self._cping: Any = None  # a channel of the connection for ping
        self._thread: threading.Thread | None = None
        self._reply_sub: RabbitSubscription | None = None
        self._reply_base = f"{exchange.name}.reply.{uuid.uuid4().hex}"

    # ---------------------------------------------------------------- called by the bus

    def subscribe(self, topic: str, kind: str, handler: Handler | ServeHandler,
                  workers: int = 1) -> RabbitSubscription:
        return self._add(RabbitSubscription(self, topic, kind, handler, workers))

    def reply_queue(self, deadline: float) -> str | None:
        """The name of the reply queue once it is consumed, or None by deadline."""
        with self._io:
            sub = self._reply_sub
            new = sub is None
            if sub is None:
                sub = self._reply_sub = RabbitSubscription(self, "reply", "reply", None)
                sub.queue_name = self._reply_base
        if new:
            self._add(sub, wait=0.0)
        if sub.declared.wait(max(0.0, deadline - time.monotonic())):
            return sub.queue_name
        return None

    def stop(self) -> None:
        """After ``closing`` is set: close every subscription and let the thread end."""
        with self._io:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        self._pipe.wake()
        if self._thread is not None:
            self._thread.join(5.0)

    def close_fds(self) -> None:
        self._pipe.close()

    # ---------------------------------------------------------------- subscriptions

    def _mark_broken(self, exc: BaseException) -> None:
        with self._io:
            if self._cbroken is None:
                self._cbroken = exc
        self._pipe.wake()

    def _ensure_thread(self) -> None:
        if not self._link.add("consumer", self._pipe.wake):
            return
        self._thread = threading.Thread(target=self._main, name="bus-consumer", daemon=True)
        self._thread.start()

    def _add(self, sub: RabbitSubscription, wait: float | None = None) -> RabbitSubscription:
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
        self._ensure_thread()
        if wait is None:
            wait = self._connector.connect_timeout if self._link.broker_seems_up() else 0.0
        if wait > 0:
            sub.declared.wait(wait)
        return sub

    def unsubscribe(self, sub: RabbitSubscription) -> None:
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

    def _declare(self, sub: RabbitSubscription) -> None:
        """Declare ``sub``'s queue and binding on the connection and consume it.
        Caller holds the consumer lock."""
        raw = self._cconn
        chan = raw.channel()
        on_message = partial(self._on_message, sub, self._cgen)
        try:
            if sub.kind == "fanout":
                safe = sub.topic.replace("*", "star").replace("#", "hash")
                q = Queue(f"{self.exchange.name}.fanout.{safe}.{uuid.uuid4().hex[:12]}",
                          self.exchange, routing_key=f"fanout.{sub.topic}",
                          durable=False, exclusive=True, auto_delete=True)
                no_ack, prefetch = True, None
            elif sub.kind == "serve":
                q = rpc_queue(self.exchange, sub.topic)
                no_ack, prefetch = False, sub.workers
            else:
                q = Queue(sub.queue_name, durable=False, exclusive=True, auto_delete=True)
                no_ack, prefetch = True, None
            try:
                consumer = KombuConsumer(chan, queues=[q], no_ack=no_ack,
                                         prefetch_count=prefetch, on_message=on_message)
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
                consumer = KombuConsumer(chan, queues=[q], no_ack=True, on_message=on_message)
            consumer.consume()
        except BaseException:
            with contextlib.suppress(Exception):
                chan.close()
            raise
        sub.channel, sub.consumer, sub.gen, sub.queue_name = chan, consumer, self._cgen, q.name
        sub.declared.set()

    # ---------------------------------------------------------------- consumer thread

    def _main(self) -> None:
        failures = 0
        delay = 0.0
        while not self._closing.is_set():
            if delay and self._closing.wait(delay):
                break
            try:
                conn, raw = self._connector.connect("consumer")
            except Exception as exc:
                failures += 1
                delay = self._connector.delay(failures)
                self._link.connect_failed("consumer", exc, failures, delay)
                continue
            failures = 0
            delay = self._connector.delay(0)  # after a loss the first retry goes at once
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
                self._link.set("consumer", True)
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
                self._link.set("consumer", False)
                if self._closing.is_set():
                    with contextlib.suppress(Exception):
                        raw.close()
                discard(conn)

    def _consume_loop(self, raw: Any) -> None:
        sock = raw.sock
        next_hb = 0.0
        while not self._closing.is_set():
            if self._cbroken is not None:
                raise self._cbroken
            suspicion = self._link.suspicion("consumer")
            if suspicion is not None:  # the publisher connection was lost: is this one up?
                with self._io:
                    ping(self._cping, SEND_TIMEOUT)
                self._link.verified("consumer", suspicion)
            timeout = max(0.0, min(1.0, next_hb - time.monotonic()))
            readable, _, _ = select.select([sock, self._pipe.fd], [], [], timeout)
            if self._pipe.fd in readable:
                self._pipe.clear()
            with self._io:
                if self._cbroken is not None:
                    raise self._cbroken
                if sock in readable:
                    drain(raw)
                if time.monotonic() >= next_hb:
                    raw.heartbeat_tick(rate=self._connector.hb_rate)
                    next_hb = time.monotonic() + self._connector.hb_step

    def _on_message(self, sub: RabbitSubscription, gen: int, message: Any) -> None:
        """In the consumer thread, consumer lock held: hand the message on, quickly."""
        if sub.kind == "reply":
            cid = message.properties.get("correlation_id")
            pending = self.pending.get(cid) if cid else None
            if pending is None:
                LOG.debug("bus: reply %s came after its call gave up", cid)
                return
            pending.reply = message.body
            pending.event.set()
            return
        if sub.active:
            sub.mailbox.put((gen, message))

    # ---------------------------------------------------------------- worker threads

    def process(self, sub: RabbitSubscription, gen: int, message: Any) -> None:
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
        wait = self._rpc_response_timeout
        with contextlib.suppress(TypeError, ValueError):
            wait = min(wait, int(props.get("expiration")) / 1000)
        deadline = time.monotonic() + wait
        reply = serve_request(sub.handler, request, sub.topic,  # type: ignore[arg-type]
                              expect_reply=bool(reply_to))
        if reply_to and cid:
            # Confirmed, so resent after a reconnect: a reply written into a connection the
            # broker had just closed (the publisher had not read its close yet) is lost
            # otherwise, and the caller times out although its request was served.
            self._send(Out("", reply_to, encode(reply), {"correlation_id": cid}, True,
                           deadline, None, "reply"))
        self._ack(sub, gen, message)

    def _ack(self, sub: RabbitSubscription, gen: int, message: Any) -> None:
        with self._io:
            if sub.gen != gen or sub.channel is None or self._cbroken is not None:
                return
            try:
                message.ack()
            except Exception as exc:
                self._mark_broken(exc)
