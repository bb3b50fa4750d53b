# want=notice: a tag in notify mode (people are told, nothing changes).
package elava.notice

import rego.v1

actions contains {"type": "tag", "tags": {"owner": "someone"}, "reason": "please tag"} if input.resource.tags.want == "notice"
