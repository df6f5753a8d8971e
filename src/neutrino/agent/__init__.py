"""Host agents: they turn the desired state of their host into kernel state and keep it so.

``agent.linux`` is the layer every agent shares: namespaces, links, addresses, routes, VXLAN
and its l2population entries, each call idempotent and usable inside any network namespace.
"""
