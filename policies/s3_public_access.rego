# A bucket whose public access block is missing or incomplete can be made public by an
# ACL or a bucket policy. The collectors read the bucket's own block
# (attributes.public_access_block: null when the bucket has none); an account-wide
# block is not observed yet, so an account that relies on one should not ship this policy.
package elava.s3_public_access

import rego.v1

settings := ["block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"]

deny contains msg if {
	input.resource.attributes.public_access_block == null
	msg := sprintf("bucket %s has no public access block: it can be made public", [input.resource.id])
}

deny contains msg if {
	block := input.resource.attributes.public_access_block
	is_object(block)
	off := [name | some name in settings; block[name] != true]
	count(off) > 0
	# concat, not sprintf: regopy 1.5 breaks sprintf("%s", [concat(...)]) (unescaped quotes).
	msg := concat("", ["bucket ", input.resource.id, " can be made public: public access block leaves ", concat(", ", off), " off"])
}
