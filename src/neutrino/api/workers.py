"""Several API processes: gunicorn's arbiter supervises them, each runs our front.

The arbiter binds the listening socket, forks ``api_workers`` workers, restarts one that
exits or misses its heartbeat, and on SIGTERM stops them gracefully (SIGKILL after
``api_graceful_timeout``); SIGINT/SIGQUIT stop at once, SIGTTIN/SIGTTOU add and remove a
worker. A worker builds its application after the fork (its own database pool and bus
connection) and serves the inherited socket with server.Front. It exits when its parent
dies: the kernel sends it SIGTERM (PR_SET_PDEATHSIG) and its loop also checks the parent
at least once a second.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.base import Worker
from oslo_config import cfg

from neutrino.api import server

LOG = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies (Linux; elsewhere the loop's parent
    check alone does it)."""
    name = ctypes.util.find_library("c")
    if not name:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class FrontWorker(Worker):
    """A gunicorn worker running server.Front: connections are owned by an event loop and
    requests run in threads only once received whole."""

    def init_process(self) -> None:
        _die_with_parent()
        super().init_process()

    def run(self) -> None:
        conf: cfg.ConfigOpts = self.app.conf
        front = server.Front(conf, self.wsgi, [s.sock for s in self.sockets])
        last_beat = 0.0
        try:
            while self.alive:
                front.run_once(1.0)
                now = time.monotonic()
                if now - last_beat >= 1.0:
                    self.notify()  # the arbiter's heartbeat
                    last_beat = now
                if self.ppid != os.getppid():
                    self.log.info("parent %s is gone: worker %s exits", self.ppid, self.pid)
                    break
        finally:
            front.shutdown()


class _Arbitrated(BaseApplication):
    def __init__(self, conf: cfg.ConfigOpts, on_ready: Callable[[], None] | None) -> None:
        self.conf = conf
        self.on_ready = on_ready
        super().__init__(prog="neutrino-server")

    def load_config(self) -> None:
        conf = self.conf
        host = f"[{conf.bind_host}]" if ":" in conf.bind_host else conf.bind_host
        on_ready = self.on_ready

        def when_ready(_arbiter: Any) -> None:
            LOG.info("neutrino API listening on http://%s:%s with %d workers",
                     conf.bind_host, conf.bind_port, conf.api_workers)
            if on_ready:
                on_ready()

        settings: dict[str, Any] = {
            "bind": [f"{host}:{conf.bind_port}"],
            "workers": conf.api_workers,
            "worker_class": FrontWorker,
            "backlog": 1024,
            # heartbeat: a worker whose loop is stuck this long is killed and replaced
            "timeout": 60,
            "graceful_timeout": conf.api_graceful_timeout,
            "loglevel": "debug" if conf.debug else "info",
            "proc_name": "neutrino-server",
            "when_ready": when_ready,
        }
        # gunicorn >= 25.1 opens a management socket (reload, scale, stop) at one path per
        # user (~/.gunicorn/gunicorn.ctl): every server of the host would take it over from
        # the previous one and delete it on exit. neutrino is managed by signals only.
        if "control_socket_disable" in self.cfg.settings:
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> server.WSGIApp:
        return server.make_app(self.conf)  # in the worker, after the fork


def run_arbiter(conf: cfg.ConfigOpts, on_ready: Callable[[], None] | None) -> None:
    _Arbitrated(conf, on_ready).run()
