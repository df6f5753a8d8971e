"""The configuration reference (etc/*.sample) is what oslo-config-generator makes of the
options as they are defined now: regenerated here, it must equal the checked-in files.
After changing an option, regenerate with

    for f in etc/oslo-config-generator/*.conf; do
        .venv/bin/oslo-config-generator --config-file "$f"; done
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from oslo_config import cfg

from neutrino import opts

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = Path(sys.executable).with_name("oslo-config-generator")
CONFIGS = sorted((ROOT / "etc" / "oslo-config-generator").glob("*.conf"))


def _output_file(config: Path) -> Path:
    for line in config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "output_file":
            return ROOT / value.strip()
    raise AssertionError(f"{config}: no output_file")


def test_every_sample_has_a_generator_config() -> None:
    assert {c.stem for c in CONFIGS} == {
        "neutrino", "linuxbridge_agent", "openvswitch_agent", "dhcp_agent", "l3_agent"}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.stem)
def test_checked_in_sample_is_up_to_date(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "sample"
    proc = subprocess.run([str(GENERATOR), "--config-file", str(config), "--output-file",
                           str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, (
        f"{proc.stderr}\n(the oslo.config.opts entry points are installed by "
        "`pip install -e .`: rerun scripts/bootstrap.sh after changing pyproject.toml)")
    sample = _output_file(config)
    assert out.read_text() == sample.read_text(), (
        f"{sample.relative_to(ROOT)} is out of date: regenerate it with "
        f"oslo-config-generator --config-file {config.relative_to(ROOT)}")


def test_the_lists_hold_what_each_part_registers() -> None:
    """Nothing is listed twice in a file, and every option a role's process registers is
    in that role's sample (server: all but the bus's, which has its own namespace)."""
    from neutrino import config
    from neutrino.cli.agent import ROLES

    def names(*lists: opts.OptList) -> list[tuple[str, str]]:
        return [((g or "DEFAULT").lower(), o.dest) for lst in lists for g, os_ in lst
                for o in os_]

    server = names(opts.list_server_opts(), opts.list_bus_opts())
    assert len(server) == len(set(server))
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    registered = {("default", n) for n in conf._opts} - {
        ("default", "config_source"), ("default", "shell_completion")}
    assert registered <= set(server)
    per_role = {"linuxbridge": opts.list_linuxbridge_agent_opts,
                "openvswitch": opts.list_openvswitch_agent_opts,
                "dhcp": opts.list_dhcp_agent_opts, "l3": opts.list_l3_agent_opts}
    for role, (register, _make) in ROLES.items():
        listed = names(opts.list_agent_opts(), per_role[role](), opts.list_bus_opts())
        assert len(listed) == len(set(listed)), role
        conf = cfg.ConfigOpts()
        register(conf)
        mine = {((g or "default").lower(), n) for g, grp in
                [(None, conf)] + [(k, v) for k, v in conf._groups.items()]
                for n in grp._opts} - {("default", "config_source"),
                                       ("default", "shell_completion")}
        assert mine <= set(listed), (role, mine - set(listed))
