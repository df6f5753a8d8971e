"""Address groups (/v2.0/address-groups): a name, a description and a set of CIDRs that
security group rules name as ``remote_address_group_id``.

As Neutron's: addresses are kept as networks (``192.168.0.10/24`` is ``192.168.0.0/24``),
deduplicated; ``add_addresses`` refuses one already there (400 AddressesAlreadyExist) and
``remove_addresses`` one that is not (404 AddressesNotFound), changing nothing; a group
that a rule names is not deleted (409 AddressGroupInUse). A project sees its own groups,
those shared with it and those shared with everyone (rbac-address-group).

Race-free: every change locks the group's row first (SQLite: the whole write is
serialized), so two address changes apply one after the other, each checking what the
other left. A rule created naming a group being deleted fails on the foreign key (no
cascade): its transaction, or the delete's, reruns and then sees the other's result.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core import records
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListSpec
from neutrino.exceptions import address_groups as errors
from neutrino.schema import address_group as schema
from neutrino.services.subnetpools.shareable import Shareable, ShareableService

_ag = t.address_groups.c
_aa = t.address_associations.c
_r = t.security_group_rules.c

LIST_SPEC = ListSpec(table=t.address_groups)
GROUPS = Shareable(schema.resource(), LIST_SPEC, t.address_group_rbacs,
                   lambda id_: errors.AddressGroupNotFound(address_group_id=id_))
# the group if the caller may see it (its own, shared, or an admin), else 404; ``lock``:
# held until the commit
group_row = GROUPS.row
# groups a project may name in its rules: its own and those shared with it
visible_to = GROUPS.visible_to

# Told the security groups whose rules name a changed address group, after the commit:
# the hosts with their ports get the same hint as for a change of those groups' rules.
GroupsChanged = Callable[[set[str]], None]


def network_text(address: str) -> str:
    """An address as Neutron stores it: the network of the CIDR given."""
    return str(ipaddress.ip_network(address, strict=False))


def addresses_of(conn: Connection, ids: list[str]) -> dict[str, list[str]]:
    """group id -> its addresses, sorted (IPv4 first). One statement."""
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for gid, address in conn.execute(sa.select(_aa.address_group_id, _aa.address)
                                     .where(_aa.address_group_id.in_(ids))):
        out[gid].append(address)
    for addrs in out.values():
        addrs.sort(key=lambda a: (ipaddress.ip_network(a).version, ipaddress.ip_network(a)))
    return out


def referencing_groups(conn: Connection, group_id: str) -> set[str]:
    """The security groups with a rule naming the address group."""
    return set(conn.scalars(sa.select(_r.security_group_id).distinct()
                            .where(_r.remote_address_group_id == group_id)))


class AddressGroupService(ShareableService):
    objects = GROUPS

    def __init__(self, db: Database, on_change: GroupsChanged | None = None) -> None:
        super().__init__(db)
        self.on_change = on_change  # None: nobody is told

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        # ``shared`` is hidden (rbac-address-group): what rule:shared_address_groups reads
        out = self.objects.dicts(conn, rows, ctx)
        addresses = addresses_of(conn, [r.id for r in rows])
        for d in out:
            d["addresses"] = addresses[d["id"]]
        return out

    # --- writing -------------------------------------------------------------------------
    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            ids = []
            for d in items:
                ts = records.now()
                ids.append(records.new_id())
                conn.execute(sa.insert(t.address_groups).values(
                    id=ids[-1], project_id=d["project_id"], name=d["name"],
                    description=d["description"], shared=False, created_at=ts,
                    updated_at=ts, revision_number=1))
                nets = sorted({network_text(a) for a in d.get("addresses") or ()})
                if nets:
                    conn.execute(sa.insert(t.address_associations), [
                        {"address_group_id": ids[-1], "address": n} for n in nets])
            return self.dicts_of(conn, ids, ctx)

        return self.db.write(run)

    def update(self, ctx: Context, group_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            row = self.held(conn, ctx, group_id)
            values = {k: data[k] for k in ("name", "description")
                      if k in data and data[k] != getattr(row, k)}
            if values:
                self.write_changes(conn, row, values)
            return self.dicts_of(conn, [group_id], ctx)[0]

        return self.db.write(run)

    def delete(self, ctx: Context, group_id: str) -> None:
        def run(conn: Connection) -> None:
            self.held(conn, ctx, group_id)
            # any project's rule counts (Neutron looks with an elevated context)
            if conn.scalar(sa.select(_r.id).where(
                    _r.remote_address_group_id == group_id).limit(1)) is not None:
                raise errors.AddressGroupInUse(address_group_id=group_id)
            conn.execute(sa.delete(t.address_groups).where(_ag.id == group_id))

        self.db.write(run)

    def change_addresses(self, ctx: Context, group_id: str, given: list[str], *,
                         add: bool, authorize: Any = None) -> dict[str, Any]:
        """PUT add_addresses / remove_addresses: ``{"address_group": {...}}`` afterwards;
        nothing changes when one address is refused."""
        wanted = sorted({network_text(a) for a in given})

        def run(conn: Connection) -> tuple[dict[str, Any], set[str]]:
            row = group_row(conn, ctx, group_id, lock=True)
            if authorize is not None:
                authorize(self.to_dicts(conn, [row], ctx)[0])
            have = set(addresses_of(conn, [group_id])[group_id])
            if add:
                there = [a for a in wanted if a in have]
                if there:
                    raise errors.AddressesAlreadyExist(addresses=there,
                                                       address_group_id=group_id)
                if wanted:
                    conn.execute(sa.insert(t.address_associations), [
                        {"address_group_id": group_id, "address": a} for a in wanted])
            else:
                missing = [a for a in wanted if a not in have]
                if missing:
                    raise errors.AddressesNotFound(addresses=missing,
                                                   address_group_id=group_id)
                if wanted:
                    conn.execute(sa.delete(t.address_associations).where(
                        _aa.address_group_id == group_id, _aa.address.in_(wanted)))
            if wanted:
                records.bump_revisions(conn, t.address_groups, [group_id])
            users = referencing_groups(conn, group_id) if wanted else set()
            return self.dicts_of(conn, [group_id], ctx)[0], users

        group, users = self.db.write(run)
        if users and self.on_change is not None:
            self.on_change(users)
        return {"address_group": group}
