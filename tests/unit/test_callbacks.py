"""core/callbacks.py: order, aborting in the transaction, AFTER errors contained, and the
core publishing its writes (with the delete's metadata reaching its AFTER half)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino import config
from neutrino.api.factory import open_database
from neutrino.context import Context
from neutrino.core.callbacks import CallbackRegistry, Event, Payload, Resource
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.schema import network
from neutrino.schema.base import MISSING


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Ml2Plugin]:
    url = f"sqlite:///{tmp_path / 'neutrino.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                       "database": {"connection": url}})
    db = open_database(conf)
    try:
        migrate.upgrade(db.engine)
        plugin = Ml2Plugin(conf, db)
        plugin.start()  # the segment pools
        yield plugin
    finally:
        db.dispose()


def _network(name: str) -> dict[str, Any]:
    defaults = {n: a.default for n, a in network.resource().attrs.items()
                if a.allow_post and a.default is not MISSING}
    return {**defaults, "name": name, "project_id": "p1"}


def test_subscribers_run_by_priority_then_subscription_order() -> None:
    registry = CallbackRegistry()
    seen: list[str] = []

    def make(name: str) -> Any:
        return lambda *_: seen.append(name)

    first, second, late = make("first"), make("second"), make("late")
    registry.subscribe(late, Resource.PORT, Event.AFTER_CREATE, priority=2000)
    registry.subscribe(first, Resource.PORT, Event.AFTER_CREATE)
    registry.subscribe(second, Resource.PORT, Event.AFTER_CREATE)
    registry.subscribe(first, Resource.PORT, Event.AFTER_CREATE)  # twice is once
    registry.subscribe(make("other"), Resource.NETWORK, Event.AFTER_CREATE)
    registry.publish(Resource.PORT, Event.AFTER_CREATE, None, Payload())
    assert seen == ["first", "second", "late"]
    registry.unsubscribe(second, Resource.PORT, Event.AFTER_CREATE)
    seen.clear()
    registry.publish(Resource.PORT, Event.AFTER_CREATE, None, Payload())
    assert seen == ["first", "late"]


@pytest.mark.parametrize("event", [Event.BEFORE_DELETE, Event.PRECOMMIT_UPDATE])
def test_before_and_precommit_subscribers_abort(event: Event) -> None:
    registry = CallbackRegistry()
    ran: list[str] = []

    def refuse(*_: Any) -> None:
        raise ValueError("no")

    registry.subscribe(refuse, Resource.SUBNET, event, priority=1)
    registry.subscribe(lambda *_: ran.append("later"), Resource.SUBNET, event)
    with pytest.raises(ValueError, match="no"):
        registry.publish(Resource.SUBNET, event, None, Payload())
    assert ran == []  # the refusal stops the rest


def test_after_subscriber_errors_are_logged_not_raised(
        caplog: pytest.LogCaptureFixture) -> None:
    registry = CallbackRegistry()
    ran: list[Payload] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    registry.subscribe(broken, Resource.NETWORK, Event.AFTER_DELETE, priority=1)
    registry.subscribe(lambda r, e, t, p: ran.append(p), Resource.NETWORK, Event.AFTER_DELETE)
    payload = Payload(context=Context.admin(), resource_id="n1", states=({"id": "n1"},))
    with caplog.at_level(logging.ERROR, logger="neutrino.core.callbacks"):
        registry.publish(Resource.NETWORK, Event.AFTER_DELETE, object(), payload)
    assert ran == [payload] and payload.latest_state == {"id": "n1"}
    assert "boom" in caplog.text


def test_core_writes_publish_with_shared_metadata(plugin: Ml2Plugin) -> None:
    """A network's PRECOMMIT_DELETE runs in the transaction (its conn set) and what it
    notes in metadata reaches the same delete's AFTER_DELETE; a PRECOMMIT refusal leaves
    the network in place."""
    events: list[tuple[Event, Any, dict[str, Any]]] = []

    def note(resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        if event == Event.PRECOMMIT_DELETE:
            assert p.conn is not None
            p.metadata["seen"] = p.resource_id
        events.append((event, p.resource_id, dict(p.metadata)))

    for event in (Event.PRECOMMIT_CREATE, Event.AFTER_CREATE, Event.PRECOMMIT_DELETE,
                  Event.AFTER_DELETE):
        plugin.registry.subscribe(note, Resource.NETWORK, event)
    admin = Context.admin()
    net = plugin.networks.create(admin, _network("n"))
    plugin.networks.delete(admin, net["id"])
    assert [(e, i) for e, i, _ in events] == [
        (Event.PRECOMMIT_CREATE, net["id"]), (Event.AFTER_CREATE, net["id"]),
        (Event.PRECOMMIT_DELETE, net["id"]), (Event.AFTER_DELETE, net["id"])]
    assert events[-1][2] == {"seen": net["id"]}

    def refuse(*_: Any) -> None:
        raise RuntimeError("kept")

    other = plugin.networks.create(admin, _network("m"))
    plugin.registry.subscribe(refuse, Resource.NETWORK, Event.PRECOMMIT_DELETE)
    with pytest.raises(RuntimeError, match="kept"):
        plugin.networks.delete(admin, other["id"])
    assert plugin.networks.get(admin, other["id"])["id"] == other["id"]
