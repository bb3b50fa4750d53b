# An EBS volume attached to nothing costs money every month: ask for its deletion.
# Destructive: the executor announces it, waits for its grace period, and cancels it
# if the volume changes (is attached) meanwhile. The definition keeps it at notify.
package elava.unattached_volume

import rego.v1

default size_gib := null

size_gib := input.resource.attributes.size_gib

default volume_type := null

volume_type := input.resource.attributes.volume_type

protected if input.resource.tags[data.params.unattached_volume.keep_tag]

actions contains action if {
	input.resource.attributes.state == "available"
	not input.resource.attributes.attached
	not protected
	action := {
		"type": "delete",
		"params": {"size_gib": size_gib, "volume_type": volume_type},
		"reason": sprintf("volume %s (%v GiB) is attached to nothing", [input.resource.id, size_gib]),
	}
}
