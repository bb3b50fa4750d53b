# want=stop and no owner tag: stop the instance (the owner tag is what calls it off).
package elava.stop_untagged

import rego.v1

actions contains action if {
	input.resource.tags.want == "stop"
	not input.resource.tags.owner
	action := {"type": "stop", "reason": "running without an owner"}
}
