# want=delete on an instance: an action no effector carries out (it fails, never guessed).
package elava.delete_instance

import rego.v1

actions contains {"type": "delete", "reason": "no effector"} if input.resource.tags.want == "delete"
