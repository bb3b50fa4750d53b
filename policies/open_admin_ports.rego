# A security group that lets the whole internet reach SSH or RDP: deny, and tell someone.
# Rules are the collectors' flat rules (elava/catalogue/network.py):
# {"protocol": "tcp"|"udp"|"all"|..., "from_port", "to_port", "cidr" | "ipv6_cidr" | ...};
# protocol "all" has no ports and opens every port.
package elava.open_admin_ports

import rego.v1

# World CIDRs and admin ports are Elava's shared constants (elava/catalogue/constants.py).
from_world(rule) if rule.cidr in data.elava.constants.world_cidrs

from_world(rule) if rule.ipv6_cidr in data.elava.constants.world_cidrs

opens(rule, _) if rule.protocol == "all"

opens(rule, port) if {
	rule.protocol == "tcp"
	rule.from_port <= port
	port <= rule.to_port
}

exposed contains port if {
	some rule in input.resource.attributes.ingress
	from_world(rule)
	some port in data.elava.constants.admin_ports
	opens(rule, port)
}

deny contains msg if {
	some port in exposed
	msg := sprintf("security group %s lets the internet (0.0.0.0/0 or ::/0) reach port %d", [input.resource.id, port])
}

actions contains action if {
	count(exposed) > 0
	ports := sort([port | some port in exposed])
	action := {
		"type": "notify",
		"params": {"ports": ports, "severity": "critical"},
		"reason": sprintf("security group %s is open to the internet on admin ports %v", [input.resource.id, ports]),
	}
}
