"""Serving the API: cheroot's threaded WSGI server, one per API process.

With ``api_workers > 1`` the parent forks that many workers; each opens its own listening
socket on the same address with SO_REUSEPORT, so the kernel spreads connections over
them and a worker that dies loses only its own connections (the parent starts a new one).
Workers share nothing but the database, which is what makes N processes, or N servers
behind a load balancer, equivalent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from cheroot import wsgi
from oslo_config import cfg

from neutrino import config
from neutrino.api import auth
from neutrino.api.factory import build_app, open_database
from neutrino.bus import Bus, make_bus
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.services import agent_rpc

LOG = logging.getLogger(__name__)


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


def make_server(conf: cfg.ConfigOpts, *, reuse_port: bool = False,
                bus: Bus | None = None) -> wsgi.Server:
    """One API process's server, serving the agents' RPC topic on its bus too. The bus is
    made here, in the process that uses it (after the fork of a worker), unless given
    (``neutrino up`` may share one with the agents it runs in the same process; the
    in-process transport's default broker is process-wide anyway)."""
    db = open_database(conf)
    if bus is None:
        bus = make_bus(conf, client_name=f"neutrino-server:{os.getpid()}")
    plugin = Ml2Plugin(conf, db, bus=bus)
    agent_rpc.serve(bus, plugin)
    app = auth.wrap(build_app(conf, db, plugin), conf)
    server = wsgi.Server(
        (conf.bind_host, conf.bind_port), app, numthreads=conf.wsgi_threads,
        request_queue_size=256, timeout=30, reuse_port=reuse_port,
        server_name="neutrino",
    )
    return server


def serve(conf: cfg.ConfigOpts, *, on_ready: Callable[[], None] | None = None) -> None:
    prepare_database(conf)
    workers = conf.api_workers
    if workers == 1:
        server = make_server(conf)
        _stop_on_signals(server.stop)
        server.prepare()
        LOG.info("neutrino API listening on http://%s:%s", *server.bind_addr[:2])
        if on_ready:
            on_ready()
        server.serve()
        return
    _supervise(conf, workers, on_ready)


def _stop_on_signals(stop: Callable[[], None]) -> None:
    def handler(_sig: int, _frame: FrameType | None) -> None:
        # Not in the handler itself: cheroot's stop() waits for the serve() loop to leave,
        # and that loop is the very frame this handler interrupted (a deadlock).
        threading.Thread(target=stop, name="neutrino-stop").start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _run_worker(conf: cfg.ConfigOpts) -> None:
    server = make_server(conf, reuse_port=True)
    _stop_on_signals(server.stop)
    try:
        server.prepare()
        server.serve()
    finally:
        os._exit(0)


def _supervise(conf: cfg.ConfigOpts, workers: int,
               on_ready: Callable[[], None] | None) -> None:
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            _run_worker(conf)
        children.add(pid)

    def stop(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    LOG.info("neutrino API listening on http://%s:%s with %d workers",
             conf.bind_host, conf.bind_port, workers)
    if on_ready:
        on_ready()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        children.discard(pid)
        if not stopping:
            LOG.error("API worker %d exited (status %d); starting another", pid, status)
            time.sleep(0.5)
            spawn()
    sys.exit(0)
