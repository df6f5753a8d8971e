"""The compute side of neutrino (what Nova does for networking): instances as network
namespaces, plugged into the host's bridges through ports created with the API."""
