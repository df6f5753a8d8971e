"""Services the tests start as subprocesses (the API server, keystone): waiting until one
answers, and stopping it with the workers it forked."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable

from tests.support.wait import WaitTimeout, wait_until


def wait_answering(proc: subprocess.Popen[bytes], answers: Callable[[], bool], what: str,
                   timeout: float, log: Callable[[], str],
                   check: Callable[[], None] | None = None) -> None:
    """Returns once ``answers()`` (an OSError is no answer yet); RuntimeError with the end
    of the log if the process exits, ``check()`` raises, or ``timeout`` passes (then the
    process is stopped)."""
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log()[-4000:]}")
        if check is not None:
            check()
        try:
            return answers()
        except OSError:
            return False

    try:
        wait_until(up, timeout, 0.1, what=f"{what} answering")
    except WaitTimeout:
        stop_group(proc)
        raise RuntimeError(f"{what} did not answer within {timeout}s:\n{log()[-4000:]}"
                           ) from None


def stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop ``proc`` and the process group it leads (started with start_new_session)."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
