"""The loop every host agent shares: heartbeat, hints, level-triggered resync.

An agent keeps no state of record in memory. Whenever it may have missed something it asks
the server for the desired state of its host (``get_host_state``, see
docs/agent-protocol.md) and converges the kernel to it (``reconcile``). The triggers:

- start (a full resync);
- a hint on fanout topic ``host.<host>``: ``{"networks": [ids]}`` resyncs those networks,
  ``{"networks": null}`` everything (the L3 agent: ``{"routers": ...}``, see
  ``resource_key``; a hint without the agent's key is for another agent and is ignored);
- a bus reconnect (hints may have been lost while disconnected): full;
- every ``resync_interval`` seconds: full (catches anything else that was missed);
- after a failure: the same work again, after a growing delay (1 s, 2 s, ... up to
  ``resync_interval``), and in any case at the next trigger.

Bursts coalesce: one resync runs at a time in the agent's worker thread; hints arriving
meanwhile are merged into one queued resync (a full resync absorbs partial ones). Errors are
logged and retried; they never end the loop.

``report_state`` casts a heartbeat with the agent's ``configurations`` every
``report_interval`` seconds from a thread of its own, so a long reconcile does not make the
agent look dead.

Every message is a type of ``neutrino.protocol``. A reply or hint of a server whose
protocol major differs from the agent's is refused (an error logged, nothing changed on
the host: ``reconcile`` is not called), and asked again with the usual back-off, so the
agent converges once both sides speak one major again (protocol/version.py).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec
from oslo_config import cfg

from neutrino import protocol
from neutrino.bus import Bus, BusError, RemoteError, make_bus
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

PLUGIN_TOPIC = rpc.TOPIC

host_opts = [
    cfg.StrOpt(
        "host",
        default=socket.gethostname(),
        sample_default="<hostname>",
        help="Name of this host as the server knows it (binding:host_id of its ports).",
    ),
]

agent_host_opts = [
    cfg.StrOpt(
        "host_namespace",
        help="Network namespace the agent programs; unset: the namespace the agent runs "
        "in. Lets several simulated hosts share one machine (as Neutron's fullstack tests "
        "do): each agent stays where the message bus is reachable and builds its host's "
        "data plane in that host's namespace.",
    ),
]

agent_opts = [
    cfg.FloatOpt(
        "report_interval",
        default=30.0,
        min=0.0,
        help="Seconds between heartbeats (report_state) to the server; 0 disables them.",
    ),
    cfg.FloatOpt(
        "polling_interval",
        default=2.0,
        min=0.05,
        help="Seconds between checks of the host's devices (new or removed tap devices). "
        "Netlink events wake the check earlier; this is the fallback.",
    ),
    cfg.FloatOpt(
        "resync_interval",
        default=60.0,
        min=0.1,
        help="Seconds between full resyncs with the server (desired state of the whole "
        "host), in addition to those on start, hints and bus reconnects.",
    ),
    cfg.StrOpt(
        "availability_zone",
        default="nova",
        help="Availability zone of this host's agents.",
    ),
]


class ReconcileIncomplete(Exception):
    """``reconcile`` converged what it could; the rest is retried (logged without a
    traceback: it names what failed)."""


def is_uuid(text: str) -> bool:
    """A UUID in its canonical spelling (any case): what agents name their namespaces
    and state directories after, so that anything else there is left alone."""
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


class _Desired(Protocol):
    @property
    def id(self) -> str: ...


D = TypeVar("D", bound=_Desired)
E = TypeVar("E", bound=_Desired)


def parse_desired(entries: Iterable[E], parse: Callable[[E], D], error: type[Exception],
                  log: logging.Logger, invalid: dict[str, str] | None = None
                  ) -> tuple[dict[str, D], dict[str, str]]:
    """The resources of a host state (protocol types) as the agent's models, by id, and
    the error of each one that does not parse (``error``: logged on the agent's ``log``
    and reported; the others still converge). ``invalid``: entries the protocol already
    refused (their type did not fit), counted among the errors."""
    desired: dict[str, D] = {}
    errors: dict[str, str] = {}
    for id_, why in (invalid or {}).items():
        errors[id_] = why
        log.error("%s", why)
    for entry in entries:
        try:
            item = parse(entry)
        except error as e:
            errors[entry.id] = str(e)
            log.error("%s", e)
            continue
        desired[item.id] = item
    return desired, errors


@dataclass(frozen=True)
class HostPlan(Generic[D]):
    """Which resources (networks of the DHCP agent, routers of the L3 agent) to converge
    and which to tear down."""

    converge: tuple[D, ...]
    teardown: tuple[str, ...]  # ids


def plan_host(served: Mapping[str, D], asked: Collection[str] | None,
              existing: Collection[str], failed: Collection[str] = ()) -> HostPlan[D]:
    """``served``: what the server listed that this agent serves (parsed); ``asked``: the
    ids asked about (None: everything); ``existing``: what the host has something of;
    ``failed``: listed but unparseable (left as they are). What the host has in the scope
    of the question and is not served goes."""
    scope = set(existing) if asked is None else set(asked) & set(existing)
    teardown = sorted(i for i in scope if i not in served and i not in failed)
    return HostPlan(converge=tuple(served[i] for i in sorted(served)),
                    teardown=tuple(teardown))


def forget_unserved(served: dict[str, Any], served_now: set[str],
                    asked: set[str] | None) -> None:
    """Drop from ``served`` (what an agent reports serving) what it no longer serves: on
    a full resync (``asked`` None) all that did not converge now, else those of the ids
    asked about that did not."""
    gone = (set(served) - served_now) if asked is None else (set(asked) - served_now)
    for id_ in gone:
        served.pop(id_, None)


def register_agent_opts(conf: cfg.ConfigOpts) -> None:
    """Register the options every agent reads (idempotent). ``host`` may already be
    registered by another part of neutrino; the existing definition is kept then."""
    for opt in host_opts + agent_host_opts:
        try:
            conf.register_opt(opt)
        except cfg.DuplicateOptError:
            LOG.debug("option %s already registered", opt.name)
    conf.register_opts(agent_opts, group="AGENT")


class Agent:
    """Base class of host agents. Subclasses set ``agent_type``/``binary`` and implement
    ``configurations`` and ``reconcile``; they may override ``start_workers``/``local_work``
    for work driven by the host itself (devices appearing)."""

    agent_type: ClassVar[str] = ""
    binary: ClassVar[str] = ""
    topic: ClassVar[str] = "N/A"
    # Whether its state reports carry [AGENT] availability_zone: DHCP and L3 agents' do
    # (they make the zones of networks and routers), L2 agents' not, as Neutron's.
    reports_availability_zone: ClassVar[bool] = False
    # What the agent's desired state is made of: the key of its hints and of
    # get_host_state's reply ("networks" for L2/DHCP, "routers" for L3), and the
    # get_host_state argument narrowing it. A hint without this key is for another kind
    # of agent on the host and is ignored.
    resource_key: ClassVar[str] = "networks"
    resource_ids_arg: ClassVar[str] = "network_ids"
    # The type of get_host_state's reply for this agent (protocol.HOST_STATES).
    host_state_type: ClassVar[type[protocol.Envelope]] = protocol.dhcp.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_agent_opts(conf)
        self.conf = conf
        self.host: str = conf.host
        self.netns: str | None = conf.host_namespace
        self.report_interval = conf.AGENT.report_interval
        self.polling_interval = conf.AGENT.polling_interval
        self.resync_interval = conf.AGENT.resync_interval
        self._own_bus = bus is None
        self.bus = bus
        self._cond = threading.Condition()
        self._running = False
        self._threads: list[threading.Thread] = []
        self._subscription: Any = None
        # pending work, guarded by _cond
        self._pending_full = False
        self._pending_networks: set[str] = set()
        self._pending_local = False
        self._retry_at: float | None = None
        self._failures = 0
        self._next_full_at = 0.0
        self._stop_event = threading.Event()
        # what happened, for tests and status
        self.resync_count = 0
        self.full_resync_count = 0
        self.last_error: BaseException | None = None
        self.last_success: float | None = None
        self._busy = False
        self._started_reported = False

    # --- what subclasses provide ------------------------------------------------------------
    def configurations(self) -> dict[str, Any]:
        return {}

    def reconcile(self, state: Any, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        """Converge the host to ``state`` (get_host_state's reply, a ``host_state_type``).
        ``network_ids``: the networks asked for (anything of those not in ``state`` is no
        longer wanted on this host), or None for a full resync (anything not in ``state``
        is not wanted). ``invalid``: {id: why} of entries of the reply that did not fit
        their type (left out of ``state``: they must be left as they are)."""
        raise NotImplementedError

    def local_work(self) -> None:
        """Work requested by ``request_local`` (from the host side); runs in the worker."""

    def start_workers(self) -> None:
        """Start extra threads (device monitors); called by ``start``."""

    def stop_workers(self) -> None:
        """Stop what ``start_workers`` started."""

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._running:
            return
        self._running = True
        self._stop_event.clear()
        if self.bus is None:
            self.bus = make_bus(self.conf, client_name=f"{self.binary}@{self.host}")
        self.bus.on_reconnect(self._on_reconnect)
        # Subscribe before the first resync: a change committed between the two is then
        # either in the resync or hinted afterwards.
        self._subscription = self.bus.subscribe(f"host.{self.host}", self._on_hint)
        self.request_resync(None, "start")
        self._spawn("worker", self._worker)
        if self.report_interval > 0:
            self._spawn("heartbeat", self._heartbeat)
        self.start_workers()
        LOG.info("%s on host %s started (namespace %s)", self.agent_type, self.host,
                 self.netns or "<own>")

    def stop(self, timeout: float = 10.0) -> None:
        if not self._running:
            return
        self._running = False
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()
        self.stop_workers()
        if self._subscription is not None:
            try:
                self._subscription.close()
            except Exception:
                LOG.debug("closing the hint subscription failed", exc_info=True)
        me = threading.current_thread()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            if t is not me:
                t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        if self._own_bus and self.bus is not None:
            self.bus.close()
            self.bus = None
        LOG.info("%s on host %s stopped", self.agent_type, self.host)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop`` is called (True) or ``timeout`` passes (False)."""
        return self._stop_event.wait(timeout)

    @property
    def running(self) -> bool:
        return self._running

    def _spawn(self, name: str, target: Any) -> None:
        t = threading.Thread(target=target, name=f"{self.binary or 'agent'}-{name}",
                             daemon=True)
        self._threads.append(t)
        t.start()

    # --- triggers ------------------------------------------------------------------------------
    def request_resync(self, network_ids: Iterable[str] | None, reason: str = "") -> None:
        """Queue a resync of ``network_ids`` (None: everything); merged with queued work."""
        with self._cond:
            if network_ids is None:
                self._pending_full = True
                self._pending_networks.clear()
            elif not self._pending_full:
                self._pending_networks.update(network_ids)
            self._retry_at = None  # a new trigger retries at once, backing off or not
            self._cond.notify_all()
        LOG.debug("resync requested (%s): %s", reason or "-",
                  "all" if network_ids is None else sorted(network_ids))

    def request_local(self) -> None:
        """Queue a call of ``local_work`` in the worker thread."""
        with self._cond:
            self._pending_local = True
            self._cond.notify_all()

    def parse_hint(self, message: Any) -> rpc.Hint | None:
        """A hint as its type; None (logged) if it is of another protocol major or
        malformed."""
        try:
            return protocol.decode(message, rpc.Hint, peer="server (hint)")
        except protocol.ProtocolVersionError as e:
            LOG.error("ignoring hint: %s", e)
        except protocol.ProtocolError as e:
            LOG.warning("ignoring malformed hint %r: %s", message, e)
        return None

    def _on_hint(self, message: dict) -> None:
        hint = self.parse_hint(message)
        if hint is not None:
            self.on_hint(hint)

    def on_hint(self, hint: rpc.Hint) -> None:
        ids = getattr(hint, self.resource_key)
        if ids is msgspec.UNSET:
            return  # a hint for another agent of this host (e.g. {"routers": [...]})
        if ids is None:
            self.request_resync(None, "hint")
        elif ids:
            self.request_resync(ids, "hint")

    def _on_reconnect(self) -> None:
        self.request_resync(None, "bus reconnect")

    def idle(self) -> bool:
        """No work queued or running (for tests: the agent has converged on what it knows)."""
        with self._cond:
            return not (self._busy or self._pending_full or self._pending_networks
                        or self._pending_local)

    # --- the worker ----------------------------------------------------------------------------
    def _take_work(self) -> tuple[bool, set[str], bool] | None:
        """Wait for work; returns (full, networks, local) or None when stopping."""
        with self._cond:
            while True:
                if not self._running:
                    return None
                now = time.monotonic()
                if now >= self._next_full_at:
                    self._pending_full = True
                    self._pending_networks.clear()
                pending = self._pending_full or bool(self._pending_networks)
                resync_ready = pending and (self._retry_at is None or now >= self._retry_at)
                if self._pending_local or resync_ready:
                    full, nets = False, set[str]()
                    if resync_ready:
                        full, nets = self._pending_full, set(self._pending_networks)
                        self._pending_full = False
                        self._pending_networks.clear()
                        self._retry_at = None
                    local, self._pending_local = self._pending_local, False
                    self._busy = True
                    return full, nets, local
                wake = self._next_full_at
                if pending and self._retry_at is not None:
                    wake = min(wake, self._retry_at)
                self._cond.wait(max(0.01, wake - now))

    def _worker(self) -> None:
        while True:
            work = self._take_work()
            if work is None:
                return
            full, nets, local = work
            try:
                if local:
                    try:
                        self.local_work()
                    except Exception as e:
                        self.last_error = e
                        LOG.exception("local work failed; resyncing everything")
                        self.request_resync(None, "local work failed")
                if full or nets:
                    self._resync(None if full else nets)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _resync(self, network_ids: set[str] | None) -> None:
        started = time.monotonic()
        if network_ids is None:
            self._next_full_at = started + self.resync_interval
        try:
            state, invalid = self.get_host_state(network_ids)
            self.reconcile(state, network_ids, invalid)
        except Exception as e:
            self.last_error = e
            self._failures += 1
            delay = min(self.resync_interval, 2.0 ** min(self._failures - 1, 10))
            what = (f"all {self.resource_key}" if network_ids is None
                    else sorted(network_ids))
            if isinstance(e, protocol.ProtocolVersionError):
                # refused to act: loud, every time (an operator must upgrade a side)
                LOG.error("resync of %s refused (retry in %.0f s): %s", what, delay, e)
            elif isinstance(e, BusError | ReconcileIncomplete | protocol.ProtocolError):
                LOG.warning("resync of %s failed (retry in %.0f s): %s", what, delay, e)
            else:
                LOG.exception("resync of %s failed (retry in %.0f s)", what, delay)
            with self._cond:
                if network_ids is None:
                    self._pending_full = True
                    self._pending_networks.clear()
                elif not self._pending_full:
                    self._pending_networks.update(network_ids)
                self._retry_at = time.monotonic() + delay
            return
        self._failures = 0
        self.resync_count += 1
        if network_ids is None:
            self.full_resync_count += 1
        self.last_success = time.monotonic()
        LOG.info("resync of %s done in %.3f s",
                 f"all {self.resource_key}" if network_ids is None else sorted(network_ids),
                 time.monotonic() - started)

    # --- server RPC ----------------------------------------------------------------------------
    def request(self, method: str, args: protocol.Message) -> dict[str, Any]:
        """The request envelope of ``method`` (protocol.rpc.Request), as the bus sends it."""
        return protocol.to_wire(rpc.Request(method=method, args=protocol.to_wire(args)))

    def call(self, method: str, args: protocol.Message) -> Any:
        assert self.bus is not None
        try:
            return self.bus.call(PLUGIN_TOPIC, self.request(method, args))
        except RemoteError as e:
            if e.exc_type == protocol.ProtocolVersionError.__name__:
                raise protocol.ProtocolVersionError(e.value) from None  # the server's refusal
            raise

    def host_state_args(self, ids: set[str] | None) -> rpc.GetHostState:
        return rpc.GetHostState(host=self.host, agent_type=self.agent_type, **{
            self.resource_ids_arg: sorted(ids) if ids is not None else None})

    def get_host_state(self, network_ids: set[str] | None) -> tuple[Any, dict[str, str]]:
        """get_host_state's reply as ``host_state_type``, and {id: why} of its entries
        that did not fit their type. ProtocolVersionError: a server of another major."""
        reply = self.call(rpc.GET_HOST_STATE, self.host_state_args(network_ids))
        return protocol.decode_host_state(reply, self.host_state_type)

    def cast(self, method: str, args: protocol.Message) -> None:
        """One-way report to the server (update_device_up, ...); logged, never raises."""
        if self.bus is None:
            return
        try:
            self.bus.cast(PLUGIN_TOPIC, self.request(method, args))
        except Exception:
            LOG.exception("cast %s to the server failed", method)

    def agent_state(self) -> rpc.AgentState:
        return rpc.AgentState(
            agent_type=self.agent_type,
            binary=self.binary,
            host=self.host,
            topic=self.topic,
            availability_zone=(self.conf.AGENT.availability_zone
                               if self.reports_availability_zone else None),
            configurations=self.configurations(),
            start_flag=not self._started_reported,
        )

    def report_state(self) -> None:
        self.cast(rpc.REPORT_STATE, rpc.ReportState(agent=self.agent_state()))
        self._started_reported = True

    def _heartbeat(self) -> None:
        while self._running:
            try:
                self.report_state()
            except Exception:
                LOG.exception("report_state failed")
            if self._stop_event.wait(self.report_interval):
                return
