"""The gunicorn arbiter neutrino runs for api_workers > 1, as configured."""

from __future__ import annotations

import pytest

from neutrino.api import workers
from neutrino.config import make_conf


def test_the_arbiter_opens_no_control_socket() -> None:
    """gunicorn's per-user control socket would be shared by every server of the host."""
    app = workers._Arbitrated(make_conf(overrides={"DEFAULT": {"api_workers": 2}}), None)
    if "control_socket_disable" not in app.cfg.settings:
        pytest.skip("this gunicorn (< 25.1) has no control socket")
    assert app.cfg.control_socket_disable is True
    assert app.cfg.workers == 2
