"""Exceptions of the Linux layer. The message always names the device or namespace, the
operation and the namespace it happened in, because an agent log line is all an operator
sees of a failed reconcile."""

from __future__ import annotations

from collections.abc import Sequence


def _where(netns: str | None) -> str:
    return f" in namespace {netns}" if netns else ""


class LinuxNetError(Exception):
    """Base class: a kernel or tool refused what the agent asked for."""


class DeviceError(LinuxNetError):
    def __init__(self, device: str, action: str, reason: object, *, netns: str | None = None,
                 errno: int | None = None) -> None:
        self.device = device
        self.action = action
        self.netns = netns
        self.errno = errno
        super().__init__(f"{device}: {action} failed{_where(netns)}: {reason}")


class NamespaceError(LinuxNetError):
    def __init__(self, namespace: str, action: str, reason: object) -> None:
        self.namespace = namespace
        self.action = action
        super().__init__(f"namespace {namespace}: {action} failed: {reason}")


class CommandError(LinuxNetError):
    def __init__(self, cmd: Sequence[str], returncode: int | None, stderr: str, *,
                 netns: str | None = None) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr = stderr
        self.netns = netns
        status = "timed out" if returncode is None else f"exit status {returncode}"
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"`{' '.join(self.cmd)}`{_where(netns)}: {status}: {detail}")
