# Auto-tag an orphan (no owner tag) with the actor CloudTrail says created it.
# Only on creation: whoever modifies an orphan later is not necessarily its owner,
# and only from CloudTrail (a provisional attribution is a guess from tags).
package elava.tagging

import rego.v1

owner_tag := object.get(data.params.tagging, "owner_tag", "owner")

has_owner if input.resource.tags[owner_tag] != ""

actions contains action if {
	input.change.kind == "created" # cheapest tests first: most changes are modifications
	not input.attribution.provisional
	input.attribution.actor != ""
	not has_owner
	action := {
		"type": "tag",
		"tags": {owner_tag: input.attribution.actor, "elava_managed": "true"},
		"reason": sprintf("no %s tag: tagged with its creator %s (CloudTrail)", [owner_tag, input.attribution.actor]),
	}
}
