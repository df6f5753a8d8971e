"""The Linux data-plane layer the agents call (netlink through pyroute2, a few commands).

Modules, by what they hold:

- ``names``      Neutron's device and namespace names (pure functions)
- ``errors``     the exceptions raised here; each names the device/namespace involved
- ``netlink``    one cached pyroute2 handle per namespace, and how a call picks its namespace
- ``namespaces`` create/delete/list network namespaces, run commands inside one
- ``devices``    bridges, veth pairs, up/down/mtu/master, addresses, routes, tx offload
- ``fdb``        the l2population forwarding state and its diff (pure)
- ``vxlan``      VXLAN devices and their flood/unicast fdb and ARP-proxy entries, ``sync_fdb``

Every call is "make it so": repeating it changes nothing. Every call takes ``netns``: an open
``IPRoute`` bound to a namespace, a namespace name (its cached handle is used) or ``None`` for
the namespace the process runs in, so one agent per simulated host works the same as one
agent per real host.
"""
