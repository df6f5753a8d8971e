"""``neutrino instance boot|delete|list``: instances as network namespaces (the Nova side).

    neutrino instance boot vm1 --network net1 [--host compute1] [--no-dhcp]
    neutrino instance delete vm1
    neutrino instance list

The API is reached at --url (default $NEUTRINO_URL, else the all-in-one's endpoint, else
http://127.0.0.1:9696) with the admin role (binding a port to a host is an admin
operation), or with --token ($OS_TOKEN) when the server uses Keystone. Under http_basic
(``neutrino up``'s default) the users come from the all-in-one's credentials.json
(--credentials, default $NEUTRINO_CREDENTIALS, ./state/ or the default state path): its
admin binds ports, and with --project P the port is created as P's user.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence

from neutrino.compute import instance
from neutrino.compute.client import DEFAULT_URL, ApiError, NeutronClient


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="neutrino instance")
    p.add_argument("--url", default=os.environ.get("NEUTRINO_URL"),
                   help=f"API endpoint (default: $NEUTRINO_URL, the all-in-one's, {DEFAULT_URL})")
    p.add_argument("--credentials", default=os.environ.get("NEUTRINO_CREDENTIALS"),
                   help="neutrino up's credentials.json (http_basic users)")
    p.add_argument("--token", default=os.environ.get("OS_TOKEN"),
                   help="Keystone token (default: $OS_TOKEN); without it noauth headers")
    p.add_argument("--project", default=os.environ.get("OS_PROJECT_ID"),
                   help="boot as a member of this project: its own and shared networks")
    p.add_argument("--namespace-prefix", default=instance.NAMESPACE_PREFIX,
                   help="instance namespaces are PREFIX<name> (default %(default)s)")
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("boot", help="create, bind and plug an instance")
    b.add_argument("name")
    b.add_argument("--network", required=True, help="network id or name")
    b.add_argument("--project", default=argparse.SUPPRESS,
                   help="as the --project before 'boot'")
    b.add_argument("--host", default=socket.gethostname(),
                   help="host to bind the port to (default: this host)")
    b.add_argument("--host-namespace", help="namespace of a simulated host (default: "
                   "--host's in the `neutrino lab` serving --url, if any)")
    b.add_argument("--no-dhcp", action="store_true",
                   help="set the fixed IP statically instead of running a DHCP client")
    b.add_argument("--timeout", type=float, default=60.0)
    b.add_argument("--ovsdb-connection", help="the host's OVSDB, for ports bound to an Open "
                   "vSwitch agent (default: ovs-vsctl's, the host's own)")
    d = sub.add_parser("delete", help="unplug an instance and delete its port")
    d.add_argument("name")
    d.add_argument("--host-namespace", help="namespace of a simulated host (tests)")
    d.add_argument("--ovsdb-connection", help="the host's OVSDB: its OVS port is removed "
                   "too (ports of an Open vSwitch host)")
    sub.add_parser("list", help="instances known to the API")
    return p


def _client(args: argparse.Namespace) -> NeutronClient:
    from neutrino.cli import cloud_users
    from neutrino.config import DEFAULT_STATE_PATH

    found = None
    if not args.token:
        paths = [args.credentials] if args.credentials else [
            os.path.join("state", cloud_users.CREDENTIALS),
            os.path.join(DEFAULT_STATE_PATH, cloud_users.CREDENTIALS)]
        found = next((c for c in map(cloud_users.load, paths) if c), None)
    if not found:
        return NeutronClient(args.url or DEFAULT_URL, token=args.token)
    users = found["users"]
    assert isinstance(users, dict)
    admin = next(name for name, u in users.items() if "admin" in u["roles"])
    return NeutronClient(
        args.url or str(found["endpoint"]), basic=(admin, users[admin]["password"]),
        project_users={u["project"]: (name, u["password"]) for name, u in users.items()
                       if "admin" not in u["roles"]})


def instance_main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    # The service identity (binds ports to hosts); with --project the port itself is
    # created as a member of that project (instance.boot), so it can only use that
    # project's networks and shared ones.
    api = _client(args)
    try:
        if args.action == "boot":
            if os.geteuid() != 0:
                print("neutrino instance boot: needs root (it creates a network namespace)",
                      file=sys.stderr)
                return 1
            from neutrino.cli.lab import host_namespace  # a `neutrino lab` host's namespace

            vm = instance.boot(
                api, args.name, args.network, args.host,
                host_namespace=args.host_namespace or host_namespace(args.url, args.host),
                namespace=instance.instance_namespace(args.name, args.namespace_prefix),
                dhcp=not args.no_dhcp, project_id=args.project, timeout=args.timeout,
                ovsdb_connection=args.ovsdb_connection)
            print(f"{vm.name}: id {vm.id}, port {vm.port_id}, {' '.join(vm.fixed_ips)}, "
                  f"mac {vm.mac_address}, mtu {vm.mtu}, host {vm.host}, "
                  f"namespace {vm.namespace}")
        elif args.action == "delete":
            found = instance.delete(
                api, args.name, host_namespace=args.host_namespace,
                namespace=instance.instance_namespace(args.name, args.namespace_prefix),
                ovsdb_connection=args.ovsdb_connection)
            if not found:
                print(f"no instance {args.name}", file=sys.stderr)
                return 1
        else:
            rows = instance.list_instances(api, namespace_prefix=args.namespace_prefix)
            fmt = "{:<20} {:<36} {:<16} {:<8} {}"
            print(fmt.format("NAME", "ID", "HOST", "STATUS", "ADDRESSES"))
            for vm in rows:
                print(fmt.format(vm.name, vm.id, vm.host, vm.status, ",".join(vm.fixed_ips)))
    except (instance.BootError, ApiError, ValueError, OSError) as e:
        print(f"neutrino instance {args.action}: {e}", file=sys.stderr)
        return 1
    return 0
