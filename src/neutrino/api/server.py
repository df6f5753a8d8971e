"""Serving the API: waitress's event-driven front in every API process, gunicorn's arbiter
over several of them.

Why this stack (issue #9): a server that ties a thread to each open connection is stalled
by as many idle or slow clients as it has threads. Here one event loop per process owns
every connection; it receives each request whole -- line, headers and a body of at most
``max_request_body_size`` -- and only then hands it to one of ``wsgi_threads`` threads
that run the application. An idle or slow client costs a socket and a small buffer, never
a thread; a body over the limit is answered 413 from its Content-Length, before it is
read; a client that takes longer than ``client_request_timeout`` to send its request is
answered 408 and dropped; idle connections close after ``client_socket_timeout``. Every
answer the HTTP layer makes itself is a NeutronError body.

With ``api_workers > 1``, gunicorn's arbiter (a well-kept process supervisor) binds the
socket, forks the workers, restarts one that dies or stops heartbeating, and stops them
on SIGTERM; each worker runs the same front on the inherited socket and exits within a
second of its parent's death (parent-death signal, and a parent check every loop turn).
With one worker the front runs in this process, which is what ``neutrino up`` needs to
share the in-process bus with its agents.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from oslo_config import cfg
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import Error as WaitressError

from neutrino import config
from neutrino.api import auth, limits
from neutrino.api.factory import build_app, open_database
from neutrino.bus import Bus, make_bus
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.services import agent_rpc

LOG = logging.getLogger(__name__)

WSGIApp = limits.WSGIApp


def prepare_database(conf: cfg.ConfigOpts) -> None:
    """Once, before serving: schema at head (SQLite is upgraded automatically; a server
    database must be upgraded by the operator with 'neutrino db upgrade') and segment
    allocation tables synced with the configured ranges."""
    db = open_database(conf)
    try:
        if not migrate.is_current(db.engine):
            if db.backend == "sqlite":
                LOG.info("upgrading database schema at %s", config.database_url(conf))
                migrate.upgrade(db.engine)
            else:
                raise SystemExit(
                    "neutrino: the database schema is not current; run "
                    "'neutrino db upgrade' with the same configuration first"
                )
        Ml2Plugin(conf, db).start()
    finally:
        db.dispose()


def make_app(conf: cfg.ConfigOpts, *, bus: Bus | None = None) -> WSGIApp:
    """One API process's WSGI application, serving the agents' RPC topic on its bus too.
    The bus is made here, in the process that uses it (after the fork of a worker), unless
    given (``neutrino up`` may share one with the agents it runs in the same process; the
    in-process transport's default broker is process-wide anyway)."""
    db = open_database(conf)
    if bus is None:
        bus = make_bus(conf, client_name=f"neutrino-server:{os.getpid()}")
    plugin = Ml2Plugin(conf, db, bus=bus)
    agent_rpc.serve(bus, plugin)
    app = limits.wrap(auth.wrap(build_app(conf, db, plugin), conf),
                      conf.max_request_body_size)
    if not conf.wsgi_keep_alive:
        app = _closing(app)
    # What start-up built (modules, SQLAlchemy's tables and compiled statements, policy
    # rules: some 100,000 objects) lives as long as the process: frozen out of the
    # collector's way, a full collection no longer walks it (a list of 1000 ports makes
    # enough objects to trigger several).
    gc.collect()
    gc.freeze()
    return app


def _closing(app: WSGIApp) -> WSGIApp:
    def closing(environ: dict[str, Any], start_response: Callable[..., Any]
                ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            return start_response(status, [*headers, ("Connection", "close")], *exc)

        return app(environ, start)

    return closing


# --- the front: waitress, with NeutronError bodies and a whole-request deadline ------------
class _Timeout(WaitressError):
    code = 408
    reason = "Request Timeout"


_ERROR_TYPES = {400: "HTTPBadRequest", 408: "HTTPRequestTimeout",
                413: "HTTPRequestEntityTooLarge", 431: "HTTPRequestHeaderFieldsTooLarge",
                500: "HTTPInternalServerError", 501: "HTTPNotImplemented"}


class _NeutronErrorTask(ErrorTask):
    """An answer of the HTTP layer itself (malformed request, header or body too large,
    timeout, an application that failed to answer) as a NeutronError body."""

    def execute(self) -> None:
        e = self.request.error
        limit = self.channel.server.neutrino_max_body
        if e.code == 413:
            type_, message = limits.too_large(limit)
        elif e.code == 408:
            type_, message = _ERROR_TYPES[408], "The request was not received in time."
        else:
            type_ = _ERROR_TYPES.get(e.code, "HTTPBadRequest")
            message = f"{e.reason}: {str(e.body)[:200]}" if e.body else f"{e.reason}."
        status, headers, body = limits.error_response(e.code, type_, message)
        self.status = status
        self.response_headers.extend(h for h in headers if h[0] != "Content-Length")
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    error_task_class = _NeutronErrorTask
    # when the request being received now started (monotonic), for client_request_timeout
    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None:
            self.request_started = time.monotonic()
        return super().received(data)

    def send_continue(self) -> None:
        # A request already refused (e.g. 413 from its Content-Length) must not invite the
        # client to send its body: the refusal is the answer.
        if self.request is not None and self.request.error is not None:
            self.request.expect_continue = False
            return
        super().send_continue()


_ACCEPT_BATCH = 256


class _Server(TcpWSGIServer):
    channel_class = _Channel
    neutrino_max_body = 0
    request_timeout = 60.0

    def handle_accept(self) -> None:
        # Take every waiting connection, not one per loop turn: a turn costs a look at each
        # open connection, so a burst of hundreds of connections would otherwise delay
        # the next client by their square.
        for _ in range(_ACCEPT_BATCH):
            if len(self._map) >= self.adj.connection_limit:
                return
            try:
                accepted = self.accept()
            except OSError:
                return
            if accepted is None:
                return
            conn, addr = accepted
            with contextlib.suppress(OSError):
                self.set_socket_options(conn)
                self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections past client_socket_timeout close
        cutoff = time.monotonic() - self.request_timeout
        for channel in list(self.active_channels.values()):
            if channel.request is None or channel.requests or channel.will_close:
                continue
            if channel.request_started >= cutoff:
                continue
            with channel.requests_lock:
                request, channel.request = channel.request, None
                if request is None:
                    continue
                if not request.headers_finished:
                    request.parse_header(b"GET / HTTP/1.0\r\n")  # answerable, then closed
                request.error = _Timeout("request not received in time")
                request.completed = True
                channel.requests.append(request)
                self.add_task(channel)


class Front:
    """One process's front: listening sockets, their connections and the request threads,
    driven by ``run_once`` from the caller's loop (so it can also watch signals, the
    parent process and gunicorn's heartbeat)."""

    def __init__(self, conf: cfg.ConfigOpts, app: WSGIApp,
                 sockets: list[socket.socket]) -> None:
        max_conns = _raise_open_files_limit(conf.max_connections)
        self.adj = Adjustments(
            # one byte over: waitress refuses a body of exactly its limit, Neutron allows it
            max_request_body_size=conf.max_request_body_size + 1,
            max_request_header_size=conf.max_request_header_size,
            channel_timeout=conf.client_socket_timeout,
            cleanup_interval=1,
            connection_limit=max_conns,
            # poll(), not select(): no 1024 file-descriptor ceiling
            asyncore_use_poll=True,
            threads=conf.wsgi_threads,
            ident="neutrino",
            backlog=1024,
            expose_tracebacks=False,
            log_socket_errors=False,
        )
        self.map: dict[int, Any] = {}
        self.dispatcher = ThreadedTaskDispatcher()
        self.dispatcher.set_thread_count(self.adj.threads)
        self.servers: list[_Server] = []
        for sock in sockets:
            server = _Server(app, self.map, True, sock, dispatcher=self.dispatcher,
                             adj=self.adj, bind_socket=False,
                             sockinfo=(sock.family, sock.type, sock.proto,
                                       sock.getsockname()))
            server.neutrino_max_body = conf.max_request_body_size
            server.request_timeout = float(conf.client_request_timeout)
            self.servers.append(server)
        self.graceful_timeout = conf.api_graceful_timeout

    def run_once(self, timeout: float = 1.0) -> None:
        wasyncore.loop(timeout=timeout, map=self.map, use_poll=True, count=1)

    def _busy(self) -> bool:
        return any(ch.requests or ch.total_outbufs_len
                   for s in self.servers for ch in list(s.active_channels.values()))

    def shutdown(self) -> None:
        """Stop accepting, let requests in progress finish and their answers go out (up to
        api_graceful_timeout), then close every connection and stop the threads."""
        for server in self.servers:
            server.accepting = False
            with contextlib.suppress(OSError):
                server.del_channel()
                server.socket.close()
        deadline = time.monotonic() + self.graceful_timeout
        while self._busy() and time.monotonic() < deadline:
            self.run_once(0.05)
        self.dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self.map)


def _raise_open_files_limit(wanted_connections: int) -> int:
    """Raise the soft open-files limit to fit the connections (plus database, bus and
    log files); answer how many connections fit."""
    reserve = 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = wanted_connections + reserve
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted_connections
    fits = max(16, soft - reserve)
    if fits < wanted_connections:
        LOG.warning("open-files limit %d allows %d connections, not max_connections=%d",
                    soft, fits, wanted_connections)
    return min(wanted_connections, fits)


def _listen(conf: cfg.ConfigOpts) -> socket.socket:
    family = socket.AF_INET6 if ":" in conf.bind_host else socket.AF_INET
    sock = socket.create_server((conf.bind_host, conf.bind_port), family=family,
                                backlog=1024, reuse_port=False)
    sock.setblocking(False)
    return sock


# --- serving -------------------------------------------------------------------------------
def serve(conf: cfg.ConfigOpts, *, on_ready: Callable[[], None] | None = None) -> None:
    prepare_database(conf)
    if conf.api_workers == 1:
        _serve_in_process(conf, on_ready)
    else:
        from neutrino.api import workers

        workers.run_arbiter(conf, on_ready)


def _serve_in_process(conf: cfg.ConfigOpts, on_ready: Callable[[], None] | None) -> None:
    stop = threading.Event()

    def handler(_sig: int, _frame: FrameType | None) -> None:
        stop.set()  # the loop sees it within a second (its poll timeout)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    sock = _listen(conf)
    front = Front(conf, make_app(conf), [sock])
    LOG.info("neutrino API listening on http://%s:%s", *sock.getsockname()[:2])
    if on_ready:
        on_ready()
    try:
        while not stop.is_set():
            front.run_once()
    finally:
        front.shutdown()
    LOG.info("neutrino API stopped")
    sys.stdout.flush()
