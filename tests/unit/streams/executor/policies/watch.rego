# want=watch: a stop in monitor mode (recorded, nothing done).
package elava.watch

import rego.v1

actions contains {"type": "stop", "reason": "watched"} if input.resource.tags.want == "watch"
