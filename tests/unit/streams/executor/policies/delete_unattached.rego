# An available volume attached to nothing, without a keep tag: delete it.
package elava.delete_unattached

import rego.v1

actions contains action if {
	input.resource.attributes.state == "available"
	not input.resource.attributes.attached
	not input.resource.tags.keep
	action := {"type": "delete", "params": {"size_gib": input.resource.attributes.size_gib}, "reason": "unattached"}
}
