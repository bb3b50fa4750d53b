# want=tag and no owner: tag it with the actor who made it.
package elava.tag_owner

import rego.v1

actions contains action if {
	input.resource.tags.want == "tag"
	not input.resource.tags.owner
	action := {"type": "tag", "tags": {"owner": input.attribution.actor}, "reason": "no owner tag"}
}
