# Unencrypted databases are forbidden in production (collectors: attributes.storage_encrypted).
package elava.rds_encryption

import rego.v1

production if {
	some key in data.params.rds_encryption.environment_tags
	lower(input.resource.tags[key]) in data.params.rds_encryption.production_values
}

deny contains msg if {
	input.resource.attributes.storage_encrypted == false # cheapest test first: most are encrypted
	production
	msg := sprintf("unencrypted %s %s in production: storage encryption is off", [input.resource.type, input.resource.id])
}
