"""Flavors and service profiles (/v2.0/flavors, /v2.0/service_profiles) and their
associations (/v2.0/flavors/{id}/service_profiles), as Neutron's flavors plugin.

Neither belongs to a project; only admins write them (policy). Checks that another
request could invalidate before the commit hold a row lock both sides take (db/locks.py):
associating holds the flavor and the profile shared, deleting or changing a profile
holds it exclusively (a profile in use is neither changed nor deleted, as Neutron's);
a router created with a flavor holds the flavor shared, its deletion exclusively (a
flavor in use is 409 FlavorInUse)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database, is_duplicate
from neutrino.db.listing import ListSpec
from neutrino.exceptions import flavors as errors
from neutrino.schema import flavor as schema
from neutrino.services.flavors.providers import L3, ServiceProviders
from neutrino.services.table_service import TableService

_fl = t.flavors.c
_sp = t.service_profiles.c
_b = t.flavor_service_profile_bindings.c
_rt = t.routers.c

FLAVOR_SPEC = ListSpec(table=t.flavors)
PROFILE_SPEC = ListSpec(table=t.service_profiles)


def _profile_row(conn: Connection, sp_id: str) -> Any:
    row = conn.execute(sa.select(t.service_profiles).where(_sp.id == sp_id)).first()
    if row is None:
        raise errors.ServiceProfileNotFound(sp_id=sp_id)
    return row


def _text(value: Any) -> str:
    return "" if value is None else value  # string_or_none: null is stored as ""


class FlavorService(TableService):
    def __init__(self, db: Database, providers: ServiceProviders) -> None:
        super().__init__(db, schema.flavor(), FLAVOR_SPEC,
                         lambda id_: errors.FlavorNotFound(flavor_id=id_))
        self.providers = providers

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        profiles: dict[str, list[str]] = {}
        if ids:
            for fid, sid in conn.execute(
                    sa.select(_b.flavor_id, _b.service_profile_id)
                    .where(_b.flavor_id.in_(ids)).order_by(_b.service_profile_id)):
                profiles.setdefault(fid, []).append(sid)
        out = self.row_dict(rows)
        for d in out:
            d["service_profiles"] = profiles.get(d["id"], [])
        return out

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            ids = []
            for d in items:
                ids.append(records.new_id())
                conn.execute(sa.insert(t.flavors).values(
                    id=ids[-1], name=d["name"], description=_text(d["description"]),
                    service_type=d["service_type"], enabled=d["enabled"]))
            return self.dicts_of(conn, ids)

        return self.db.write(run)

    def update(self, ctx: Context, flavor_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            locks.lock(conn, t.flavors, [flavor_id])
            self.row(conn, flavor_id)
            values = {k: data[k] for k in ("name", "description", "enabled") if k in data}
            if "description" in values:
                values["description"] = _text(values["description"])
            if values:
                conn.execute(sa.update(t.flavors).where(_fl.id == flavor_id).values(**values))
            return self.to_dicts(conn, [self.row(conn, flavor_id)])[0]

        return self.db.write(run)

    def delete(self, ctx: Context, flavor_id: str) -> None:
        def run(conn: Connection) -> None:
            locks.lock(conn, t.flavors, [flavor_id])
            self.row(conn, flavor_id)
            if conn.execute(sa.select(_rt.id).where(_rt.flavor_id == flavor_id).limit(1)
                            ).first() is not None:
                raise errors.FlavorInUse(flavor_id=flavor_id)
            conn.execute(sa.delete(t.flavor_service_profile_bindings)
                         .where(_b.flavor_id == flavor_id))
            conn.execute(sa.delete(t.flavors).where(_fl.id == flavor_id))

        self.db.write(run)

    # --- associations (/flavors/{id}/service_profiles) -----------------------------------
    def associate(self, ctx: Context, flavor_id: str, sp_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> None:
            locks.lock(conn, t.flavors, [flavor_id], shared=True)
            locks.lock(conn, t.service_profiles, [sp_id], shared=True)
            self.row(conn, flavor_id)
            _profile_row(conn, sp_id)
            if self._bound(conn, flavor_id, sp_id):
                raise errors.FlavorServiceProfileBindingExists(sp_id=sp_id, fl_id=flavor_id)
            conn.execute(sa.insert(t.flavor_service_profile_bindings).values(
                flavor_id=flavor_id, service_profile_id=sp_id))

        try:
            self.db.write(run)
        except Exception as e:
            if is_duplicate(e):  # the same association by a concurrent request
                raise errors.FlavorServiceProfileBindingExists(
                    sp_id=sp_id, fl_id=flavor_id) from None
            raise
        return {"id": sp_id}

    @staticmethod
    def _bound(conn: Connection, flavor_id: str, sp_id: str) -> bool:
        return conn.execute(sa.select(_b.flavor_id).where(
            _b.flavor_id == flavor_id, _b.service_profile_id == sp_id)).first() is not None

    def association(self, ctx: Context, flavor_id: str, sp_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            if not self._bound(conn, flavor_id, sp_id):
                raise errors.FlavorServiceProfileBindingNotFound(sp_id=sp_id, fl_id=flavor_id)
            return {"service_profile_id": sp_id, "flavor_id": flavor_id}

        return self.db.read(run)

    def disassociate(self, ctx: Context, flavor_id: str, sp_id: str) -> None:
        def run(conn: Connection) -> None:
            gone = conn.execute(sa.delete(t.flavor_service_profile_bindings).where(
                _b.flavor_id == flavor_id, _b.service_profile_id == sp_id)).rowcount
            if not gone:
                raise errors.FlavorServiceProfileBindingNotFound(sp_id=sp_id, fl_id=flavor_id)

        self.db.write(run)

    def _first_profile(self, conn: Connection, flavor_id: str) -> Any:
        sp_id = conn.scalar(sa.select(_b.service_profile_id).where(_b.flavor_id == flavor_id)
                            .order_by(_b.service_profile_id).limit(1))
        if sp_id is None:
            raise errors.FlavorServiceProfileBindingNotFound(sp_id="", fl_id=flavor_id)
        profile = _profile_row(conn, sp_id)
        if not profile.enabled:
            raise errors.ServiceProfileDisabled()
        return profile

    def next_providers(self, ctx: Context, flavor_id: str) -> list[dict[str, Any]]:
        """The provider of the flavor's first service profile (Neutron's
        get_flavor_next_provider)."""
        def run(conn: Connection) -> list[dict[str, Any]]:
            self.row(conn, flavor_id)
            profile = self._first_profile(conn, flavor_id)
            found = self.providers.find(driver=[profile.driver])
            if not found:
                raise errors.ServiceProfileDriverNotFound(driver=profile.driver)
            return [{"driver": profile.driver, "provider": found[0]["name"]}]

        return self.db.read(run)

    # --- l3-flavors ---------------------------------------------------------------------------
    def check_router_flavor(self, conn: Connection, flavor_id: str) -> None:
        """A router's flavor_id, in the router create's transaction: an existing, enabled
        L3_ROUTER_NAT flavor whose first service profile is enabled and names an L3
        provider. Held shared until the commit, so the flavor's deletion waits and then
        finds the router (FlavorInUse)."""
        locks.lock(conn, t.flavors, [flavor_id], shared=True)
        row = self.row(conn, flavor_id)
        if row.service_type != L3:
            raise exc.InvalidInput(
                error_message=f"Flavor {flavor_id} is not a flavor of service type {L3}")
        if not row.enabled:
            raise errors.FlavorDisabled()
        profile = self._first_profile(conn, flavor_id)
        if not self.providers.find(service_type=[L3], driver=[profile.driver]):
            raise errors.ServiceProfileDriverNotFound(driver=profile.driver)


class ServiceProfileService(TableService):
    def __init__(self, db: Database, providers: ServiceProviders) -> None:
        super().__init__(db, schema.service_profile(), PROFILE_SPEC,
                         lambda id_: errors.ServiceProfileNotFound(sp_id=id_))
        self.providers = providers

    def _check_driver(self, driver: str) -> None:
        if not self.providers.find(driver=[driver]):
            raise errors.ServiceProfileDriverNotFound(driver=driver)

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for d in items:
            if d["driver"]:
                self._check_driver(d["driver"])
            elif not d["metainfo"]:
                raise errors.ServiceProfileEmpty()

        def run(conn: Connection) -> list[dict[str, Any]]:
            ids = []
            for d in items:
                ids.append(records.new_id())
                conn.execute(sa.insert(t.service_profiles).values(
                    id=ids[-1], description=_text(d["description"]), driver=d["driver"],
                    metainfo=d["metainfo"], enabled=d["enabled"]))
            return self.dicts_of(conn, ids)

        return self.db.write(run)

    def _not_in_use(self, conn: Connection, sp_id: str) -> None:
        locks.lock(conn, t.service_profiles, [sp_id])
        self.row(conn, sp_id)
        if conn.execute(sa.select(_b.flavor_id).where(_b.service_profile_id == sp_id)
                        .limit(1)).first() is not None:
            raise errors.ServiceProfileInUse(sp_id=sp_id)

    def update(self, ctx: Context, sp_id: str, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("driver"):
            self._check_driver(data["driver"])

        def run(conn: Connection) -> dict[str, Any]:
            self._not_in_use(conn, sp_id)
            values = {k: data[k] for k in ("description", "driver", "metainfo", "enabled")
                      if k in data}
            if "description" in values:
                values["description"] = _text(values["description"])
            if values:
                conn.execute(sa.update(t.service_profiles).where(_sp.id == sp_id)
                             .values(**values))
            return self.to_dicts(conn, [self.row(conn, sp_id)])[0]

        return self.db.write(run)

    def delete(self, ctx: Context, sp_id: str) -> None:
        def run(conn: Connection) -> None:
            self._not_in_use(conn, sp_id)
            conn.execute(sa.delete(t.service_profiles).where(_sp.id == sp_id))

        self.db.write(run)
