"""Errors of security groups, port security and allowed address pairs, by Neutron's type
names (the class name is the ``type`` of the error body), status codes and messages."""

from __future__ import annotations

from neutrino import exceptions as exc


class SecurityGroupNotFound(exc.NotFound):
    message = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(exc.NotFound):
    message = "Security group rule %(id)s does not exist"


class SecurityGroupInUse(exc.Conflict):
    message = "Security Group %(id)s in use."


class SecurityGroupCannotRemoveDefault(exc.Conflict):
    message = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(exc.Conflict):
    message = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(exc.Conflict):
    message = "Default security group already exists."


class SecurityGroupConflict(exc.Conflict):
    message = "Error %(reason)s while attempting the operation."


class SecurityGroupRuleExists(exc.Conflict):
    message = "Security group rule already exists. Rule id is %(rule_id)s."


class DuplicateSecurityGroupRuleInPost(exc.Conflict):
    message = "Duplicate Security Group Rule in POST."


class SecurityGroupInvalidPortRange(exc.InvalidInput):
    message = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidProtocolForPort(exc.InvalidInput):
    message = ("Ports cannot be specified for protocol %(protocol)s. Ports are only "
               "supported for %(valid_port_protocols)s.")


class SecurityGroupInvalidPortValue(exc.InvalidInput):
    message = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(exc.InvalidInput):
    message = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupEthertypeConflictWithProtocol(exc.InvalidInput):
    message = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupMissingIcmpType(exc.InvalidInput):
    message = ("ICMP code (port-range-max) %(value)s is provided but ICMP type "
               "(port-range-min) is missing.")


class SecurityGroupRuleInvalidProtocol(exc.InvalidInput):
    message = ("Security group rule protocol %(protocol)s not supported. Only protocol "
               "values %(values)s and integer representations [0 to 255] are supported.")


class SecurityGroupRuleInvalidEtherType(exc.InvalidInput):
    message = ("Security group rule for ethertype '%(ethertype)s' not supported. Allowed "
               "values are %(values)s.")


class SecurityGroupRulesNotSingleProject(exc.InvalidInput):
    message = "Multiple project_ids in bulk security group rule create not allowed"


class SecurityGroupNotSingleGroupRules(exc.InvalidInput):
    message = "Only allowed to update rules for one security profile at a time"


class SecurityGroupMultipleRemoteEntites(exc.InvalidInput):
    message = ("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id "
               "may be provided.")


class SecurityGroupProtocolRequiredWithPorts(exc.InvalidInput):
    message = "Must also specify protocol if port range is given."


class SecurityGroupRuleParameterConflict(exc.InvalidInput):
    message = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class InvalidCIDR(exc.BadRequest):
    message = "Invalid CIDR %(input)s given as IP prefix."


# --- port-security, allowed-address-pairs --------------------------------------------------
class PortSecurityPortHasSecurityGroup(exc.Conflict):
    message = ("Port has security group associated. Cannot disable port security or IP "
               "address until security group is removed.")


class PortSecurityAndIPRequiredForSecurityGroups(exc.InvalidInput):
    message = ("Port security must be enabled and port must have an IP address in order "
               "to use security groups.")


class AddressPairAndPortSecurityRequired(exc.Conflict):
    message = ("Port Security must be enabled in order to have allowed address pairs on a "
               "port.")


class AllowedAddressPairsMissingIP(exc.InvalidInput):
    message = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(exc.InvalidInput):
    message = ("Request contains duplicate address pair: mac_address %(mac_address)s "
               "ip_address %(ip_address)s.")


class AllowedAddressPairExhausted(exc.BadRequest):
    message = "The number of allowed address pair exceeds the maximum %(quota)s."


class DefaultSecurityGroupRuleNotFound(exc.NotFound):
    message = "Default Security Group rule %(id)s does not exist"


class DuplicateDefaultSgRuleInPost(exc.Conflict):
    message = "Duplicate Default Security Group Rule in POST."


class DefaultSecurityGroupRuleExists(exc.Conflict):
    message = "Default security group rule already exists. Rule id is %(rule_id)s."
