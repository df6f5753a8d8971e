"""The API as a WSGI application, for operators who run it under their own WSGI server
(uWSGI, gunicorn, mod_wsgi) as they do Neutron's::

    NEUTRINO_CONFIG_FILES=/etc/neutrino/neutrino.conf gunicorn -w 4 neutrino.wsgi:application
    uwsgi --http :9696 --module neutrino.wsgi:application --processes 4 --threads 8 \\
          --env NEUTRINO_CONFIG_FILES=/etc/neutrino/neutrino.conf

Configuration files are found as Neutron's WSGI script finds its own
(OS_NEUTRON_CONFIG_FILES / OS_NEUTRON_CONFIG_DIR): ``NEUTRINO_CONFIG_FILES`` is a list
separated by ``;`` (later files win, as with repeated ``--config-file``), relative names
are taken in ``NEUTRINO_CONFIG_DIR`` (default /etc/neutrino); ``NEUTRINO_CONFIG_FILE``
names a single file. With none of them set, /etc/neutrino/neutrino.conf is read if it
exists. The server's own command-line options are not read (the WSGI server owns argv).

The body limit (413) and JSON-only bodies (415) are enforced by the application itself,
so they hold under any server; connection handling (idle and slow clients, timeouts) is
then the WSGI server's job: give it a request timeout and a body buffer (uWSGI
``harakiri``/``post-buffering``, gunicorn's defaults, Apache's ``RequestReadTimeout``).

The application is built in the process that first calls it, so a server that imports
this module before forking its workers (uWSGI without lazy-apps, gunicorn --preload)
still gives every worker its own database pool and bus connection.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from oslo_config import cfg

from neutrino import config

DEFAULT_CONFIG_DIR = "/etc/neutrino"


def config_files(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    directory = env.get("NEUTRINO_CONFIG_DIR", "").strip() or DEFAULT_CONFIG_DIR
    names = [n.strip() for n in env.get("NEUTRINO_CONFIG_FILES", "").split(";") if n.strip()]
    single = env.get("NEUTRINO_CONFIG_FILE", "").strip()
    if single:
        names.append(single)
    if not names:
        default = os.path.join(directory, "neutrino.conf")
        return [default] if os.path.exists(default) else []
    return [os.path.join(directory, n) for n in names]


def load_conf(env: Mapping[str, str] | None = None) -> cfg.ConfigOpts:
    args: list[str] = []
    for path in config_files(env):
        args += ["--config-file", path]
    return config.make_conf(args, prog="neutrino-wsgi")


class _Application:
    """The WSGI callable; builds the API on its first call in each process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._app: Callable[..., Iterable[bytes]] | None = None
        self._pid = 0
        self.conf: cfg.ConfigOpts | None = None

    def _build(self) -> Callable[..., Iterable[bytes]]:
        from neutrino.api import server

        with self._lock:
            if self._app is None or self._pid != os.getpid():
                if self.conf is None:
                    self.conf = load_conf()
                    logging.basicConfig(
                        level=logging.DEBUG if self.conf.debug else logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: "
                        "%(message)s")
                    server.prepare_database(self.conf)
                self._app = server.make_app(self.conf)
                self._pid = os.getpid()
            return self._app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        app = self._app
        if app is None or self._pid != os.getpid():
            app = self._build()
        return app(environ, start_response)


application = _Application()
