"""Errors of segments and routed networks, by Neutron's type names (the class name is the
``type`` of the error body), status codes and messages (neutron/services/segments/
exceptions.py). Here, not in services/: the core raises most of them (subnets on
segments, addresses of ports on routed networks)."""

from __future__ import annotations

from neutrino import exceptions as exc


class SegmentNotFound(exc.NotFound):
    message = "Segment %(segment_id)s could not be found."


class SegmentInUse(exc.Conflict):  # neutron-lib's InUse
    message = "Segment '%(segment_id)s' cannot be deleted: %(reason)s."


class NoUpdateSubnetWhenMultipleSegmentsOnNetwork(exc.BadRequest):
    message = ("The network '%(network_id)s' has multiple segments, it is only possible to "
               "associate an existing subnet with a segment on networks with a single "
               "segment.")


class SubnetsNotAllAssociatedWithSegments(exc.BadRequest):
    message = ("All of the subnets on network '%(network_id)s' must either all be "
               "associated with segments or all not associated with any segment.")


class SubnetSegmentAssociationChangeNotAllowed(exc.BadRequest):
    message = ("A subnet that is already associated with a segment cannot have its segment "
               "association changed.")


class NetworkIdsDontMatch(exc.BadRequest):
    message = ("The subnet's network id, '%(subnet_network)s', doesn't match the network_id "
               "of segment '%(segment_id)s'")


class HostNotConnectedToAnySegment(exc.Conflict):
    message = ("Host %(host)s is not connected to any segments on routed provider network "
               "'%(network_id)s'.  It should be connected to one.")


class HostNotCompatibleWithFixedIps(exc.Conflict):
    message = ("Host %(host)s is not connected to a segment where the existing fixed_ips on "
               "port %(port_id)s will function given the routed network topology.")


class FixedIpsSubnetsNotOnSameSegment(exc.BadRequest):
    message = "Cannot allocate addresses from different segments."
