"""Errors of segments and routed networks (neutron/services/segments/exceptions.py:
names, codes and texts). The core raises most of them (subnets on segments, addresses of
ports on routed networks), the segments service the rest."""

from __future__ import annotations

from neutrino.exceptions import BadRequest, Conflict, NotFound


class SegmentNotFound(NotFound, message="Segment %(segment_id)s could not be found."): ...
class SegmentInUse(Conflict, message=(
    "Segment '%(segment_id)s' cannot be deleted: %(reason)s.")): ...
class NoUpdateSubnetWhenMultipleSegmentsOnNetwork(BadRequest, message=(
    "The network '%(network_id)s' has multiple segments, it is only possible to associate "
    "an existing subnet with a segment on networks with a single segment.")): ...
class SubnetsNotAllAssociatedWithSegments(BadRequest, message=(
    "All of the subnets on network '%(network_id)s' must either all be associated with "
    "segments or all not associated with any segment.")): ...
class SubnetSegmentAssociationChangeNotAllowed(BadRequest, message=(
    "A subnet that is already associated with a segment cannot have its segment "
    "association changed.")): ...
class NetworkIdsDontMatch(BadRequest, message=(
    "The subnet's network id, '%(subnet_network)s', doesn't match the network_id of "
    "segment '%(segment_id)s'")): ...
class HostNotConnectedToAnySegment(Conflict, message=(
    "Host %(host)s is not connected to any segments on routed provider network "
    "'%(network_id)s'.  It should be connected to one.")): ...
class HostNotCompatibleWithFixedIps(Conflict, message=(
    "Host %(host)s is not connected to a segment where the existing fixed_ips on port "
    "%(port_id)s will function given the routed network topology.")): ...
class FixedIpsSubnetsNotOnSameSegment(BadRequest, message=(
    "Cannot allocate addresses from different segments.")): ...
