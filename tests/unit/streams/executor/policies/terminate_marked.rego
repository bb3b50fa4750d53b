# want=terminate: terminate the instance.
package elava.terminate_marked

import rego.v1

actions contains action if {
	input.resource.tags.want == "terminate"
	action := {"type": "terminate", "reason": "marked for termination"}
}
