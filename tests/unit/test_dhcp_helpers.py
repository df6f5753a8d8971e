"""DHCP agent helpers that need no root: options, files, the inotify watch, /proc checks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from neutrino import config
from neutrino.agent.dhcp import actions as dhcp_actions
from neutrino.agent.dhcp import agent, dnsmasq
from neutrino.agent.dhcp.inotify import DirectoryWatch
from neutrino.agent.dhcp.render import NetworkFiles


def test_options_and_settings() -> None:
    conf = config.make_conf([])
    agent.register_opts(conf)
    agent.register_opts(conf)  # idempotent
    conf.set_override("dhcp_lease_duration", -1)
    conf.set_override("dns_domain", "example.org.")
    conf.set_override("dnsmasq_dns_servers", [" 192.0.2.53 ", ""])
    s = agent.settings_from(conf)
    assert (s.lease, s.clean_domain, s.dns_servers) == ("infinite", "example.org",
                                                         ("192.0.2.53",))
    assert conf.namespace_prefix == "" and conf.host_namespace is None


def test_write_file_is_atomic_and_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "host"
    old = os.umask(0o077)
    try:
        dhcp_actions.write_file(str(path), "a\n")
        dhcp_actions.write_file(str(path), "b\n")
    finally:
        os.umask(old)
    assert path.read_text() == "b\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["host"]
    assert dhcp_actions.read_file(str(tmp_path / "missing")) is None


def test_unreadable_for_others(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    locked.chmod(0o700)
    target = locked / "state" / "dhcp"
    blocked = agent.unreadable_for_others(str(target))
    assert blocked is not None and Path(blocked) in (locked, *locked.parents)
    locked.chmod(0o755)
    for p in locked.parents:
        if not p.stat().st_mode & 0o001:
            break
    else:
        assert agent.unreadable_for_others(str(target)) is None


def test_is_uuid() -> None:
    assert agent.is_uuid("3a2c9c1e-5b0f-4c6e-9d1a-2f8e7b6c5d4a")
    assert not agent.is_uuid("lost+found") and not agent.is_uuid("3A2C9C1E5B0F4C6E9D1A2F8E")


def test_directory_watch_sees_a_read(tmp_path: Path) -> None:
    (tmp_path / "opts").write_text("x")
    (tmp_path / "host").write_text("y")
    with DirectoryWatch(str(tmp_path)) as watch:
        assert not watch.wait_for("opts", 0.05)
        (tmp_path / "host").read_text()
        assert not watch.wait_for("opts", 0.05)  # another file's event is not it
        timer = threading.Timer(0.05, (tmp_path / "opts").read_text)
        timer.start()
        assert watch.wait_for("opts", 2.0)
        timer.join()


def test_find_trusts_only_dnsmasq_with_this_pid_file(tmp_path: Path) -> None:
    files = NetworkFiles(str(tmp_path))
    assert dnsmasq.find(files, None) is None
    # a live process that is not dnsmasq, named by the pid file (a recycled pid)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        Path(files.pid).write_text(f"{proc.pid}\n")
        assert dnsmasq.read_pid(files.pid) == proc.pid
        assert dnsmasq.find(files, None) is None
        dnsmasq.stop(proc.pid, files, timeout=0.1)  # refuses: not ours
        assert proc.poll() is None
        assert proc.pid not in dnsmasq.find_strays(files)
    finally:
        proc.kill()
        proc.wait()
    assert dnsmasq.is_dnsmasq_for(("/usr/sbin/dnsmasq", f"--pid-file={files.pid}"), files)
    assert not dnsmasq.is_dnsmasq_for(("dnsmasq", f"--pid-file={files.pid}x"), files)
    Path(files.pid).write_text("garbage")
    assert dnsmasq.read_pid(files.pid) is None
