"""The DHCP agent: dnsmasq per network in qdhcp- namespaces (see ``agent``).

Modules: ``model`` (the desired state, parsed), ``render`` (dnsmasq's command line and
files, pure), ``plan`` (what to start, reload, restart or remove, pure), ``dnsmasq`` (the
processes), ``inotify`` (seeing dnsmasq re-read its files), ``agent`` (``DhcpAgent``).
"""
