# An EBS volume attached to nothing costs money every month: ask for its deletion.
# Destructive: the executor announces it, waits for its grace period, and cancels it
# if the volume changes (is attached) meanwhile. The definition keeps it at notify.
package elava.unattached_volume

import rego.v1

protected if input.resource.tags[data.params.unattached_volume.keep_tag]

actions contains action if {
	input.resource.attributes.state == "available"
	not input.resource.attributes.attached
	not protected
	size := object.get(input.resource.attributes, "size_gib", null)
	action := {
		"type": "delete",
		"params": {"size_gib": size, "volume_type": object.get(input.resource.attributes, "volume_type", null)},
		"reason": sprintf("volume %s (%v GiB) is attached to nothing", [input.resource.id, size]),
	}
}
