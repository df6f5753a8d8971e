"""The L3 agent: routers in qrouter- namespaces with nftables NAT (see ``agent``).

Modules: ``model`` (the desired state, parsed), ``nat`` (the router's nftables table,
rendered, and read back), ``plan`` (what to change in a router namespace, pure), ``agent``
(``L3Agent``: observing and changing the kernel).
"""
