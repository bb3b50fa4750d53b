# want=many-tags: more tags than EC2 takes on one resource (AWS refuses the call).
package elava.many_tags

import rego.v1

actions contains action if {
	input.resource.tags.want == "many-tags"
	action := {"type": "tag", "tags": {sprintf("key-%d", [n]): "x" | some n in numbers.range(1, 60)}, "reason": "many"}
}
