"""The ``openstack`` command, each run a fresh process forked from one that has already
imported it.

A run of the CLI spends about 1.3 s of CPU importing python-openstackclient, the SDK and
their plugins before it sends its first request, and the API tests run it hundreds of
times. Here a helper process imports all of that once; every command is then a child
forked from it that runs the console script's own entry point
(``openstackclient.shell:main``, what ``.venv/bin/openstack`` calls) with the caller's
arguments, environment, working directory and an empty stdin, its stdout and stderr
captured, its exit status the command's. Nothing of a command outlives its child, so one
command cannot affect the next; only the imports are shared.

``run_openstack`` is a drop-in for ``subprocess.run([openstack, *args],
capture_output=True, text=True, env=..., cwd=..., timeout=...)``.

Run as a script, this file is the helper: one JSON request per stdin line, one JSON
answer per stdout line.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

_helper: subprocess.Popen[str] | None = None
_lock = threading.Lock()


def _start() -> subprocess.Popen[str]:
    global _helper
    if _helper is None or _helper.poll() is not None:
        _helper = subprocess.Popen(
            [sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, start_new_session=True)
        atexit.register(stop)
    return _helper


def stop() -> None:
    global _helper
    helper, _helper = _helper, None
    if helper is not None and helper.poll() is None:
        assert helper.stdin is not None
        helper.stdin.close()  # the helper ends at the end of its input
        try:
            helper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(helper.pid, signal.SIGKILL)
            helper.wait()


def run_openstack(args: list[str], *, env: dict[str, str], cwd: str | Path,
                  timeout: float) -> subprocess.CompletedProcess[str]:
    """``openstack *args``, as subprocess.run(..., capture_output=True, text=True) gives
    it back; subprocess.TimeoutExpired when it runs longer than ``timeout``."""
    request = {"args": list(args), "env": env, "cwd": str(cwd), "timeout": timeout}
    with _lock:
        helper = _start()
        assert helper.stdin is not None and helper.stdout is not None
        helper.stdin.write(json.dumps(request) + "\n")
        helper.stdin.flush()
        line = helper.stdout.readline()
    if not line:
        raise RuntimeError(f"the openstack CLI helper died (exit {helper.wait()})")
    answer = json.loads(line)
    cmd = ["openstack", *args]
    if answer["timed_out"]:
        raise subprocess.TimeoutExpired(cmd, timeout, answer["stdout"], answer["stderr"])
    return subprocess.CompletedProcess(cmd, answer["returncode"], answer["stdout"],
                                       answer["stderr"])


# --- the helper process ---------------------------------------------------------------

def _warm_up() -> None:
    """Import what a command would: the shell, the modules of its command plugins (every
    ``openstack.*`` entry point: the CLI loads them all at each start) and the auth
    plugins; fill the caches that it fills on the way (stevedore's entry points, cliff's
    module-to-distribution map)."""
    import contextlib
    from importlib.metadata import entry_points

    from cliff import command
    from keystoneauth1 import loading
    from openstackclient import shell  # noqa: F401
    from stevedore import ExtensionManager

    ExtensionManager("openstack.cli.extension")
    command._get_distributions_by_modules()
    loading.get_available_plugin_names()
    everything = entry_points()
    for group in everything.groups:
        for ep in everything.select(group=group) if group.startswith("openstack.") else ():
            with contextlib.suppress(Exception):  # a broken plugin fails in the CLI too
                ep.load()


def _child(request: dict[str, Any], out: int, err: int) -> None:
    """In the forked child: become the command and exit with its status."""
    code = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["openstack", *request["args"]]
        from openstackclient.shell import main

        code = main(request["args"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def _text(data: bytes) -> str:
    """As subprocess.run(text=True) decodes: universal newlines."""
    return data.decode(errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _serve() -> None:
    _warm_up()
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            answers.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request, out.fileno(), err.fileno())
            deadline = time.monotonic() + request["timeout"]
            timed_out = False
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    _, status = os.waitpid(pid, 0)
                    timed_out = True
                    break
                time.sleep(0.005)
            out.seek(0)
            err.seek(0)
            answers.write(json.dumps({
                "returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
                "stdout": _text(out.read()),
                "stderr": _text(err.read())}) + "\n")
            answers.flush()


if __name__ == "__main__":
    _serve()
