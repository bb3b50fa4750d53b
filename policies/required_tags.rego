# Deny resources that lack a tag every team must set (the list is data: required_tags.yaml).
package elava.required_tags

import rego.v1

deny contains msg if {
	some tag in data.params.required_tags.tags
	not has_tag(tag)
	msg := sprintf("%s %s has no %s tag", [input.resource.type, input.resource.id, tag])
}

has_tag(tag) if input.resource.tags[tag] != ""
