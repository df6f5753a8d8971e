"""Just enough inotify (through libc, no dependency) to see dnsmasq re-read its files.

dnsmasq handles SIGHUP in its single-threaded main loop by re-reading, in order, the extra
hosts, the DHCP hosts file and the DHCP options file, and applying them before it handles
the next packet. So the moment it closes the options file after reading it
(IN_CLOSE_NOWRITE), every port in the hosts file is being served: that is when the agent
tells the server the ports are ready, and a reload that never gets that far (dnsmasq died,
or cannot read the files after dropping privileges) is noticed instead of assumed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
import time

IN_CLOSE_NOWRITE = 0x00000010
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len

_libc: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        # the C library the interpreter is linked with (no ldconfig lookup)
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


class DirectoryWatch:
    """Watch one directory for files being closed after reading. Use as a context manager;
    create it *before* triggering the read, so the event cannot be missed."""

    def __init__(self, directory: str, mask: int = IN_CLOSE_NOWRITE) -> None:
        lib = _lib()
        fd = lib.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_init1: {os.strerror(e)}")
        self.fd = fd
        if lib.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            e = ctypes.get_errno()
            os.close(fd)
            raise OSError(e, f"inotify_add_watch {directory}: {os.strerror(e)}")

    def wait_for(self, name: str, timeout: float) -> bool:
        """True as soon as ``name`` (in the directory) has an event; False after
        ``timeout`` seconds without one."""
        wanted = os.fsencode(name)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return False
            try:
                data = os.read(self.fd, 65536)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    continue
                raise
            offset = 0
            while offset + _EVENT.size <= len(data):
                _wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                start = offset + _EVENT.size
                if data[start:start + length].rstrip(b"\0") == wanted:
                    return True
                offset = start + length

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> DirectoryWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
