"""The Open vSwitch L2 agent (``neutrino-agent --role openvswitch``; docs/ovs-agent.md)."""
