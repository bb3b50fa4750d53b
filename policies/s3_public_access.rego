# A bucket is public when AWS would serve it to anyone: its ACL grants something to
# everyone (AllUsers) or to every AWS account (AuthenticatedUsers), or S3 calls its bucket
# policy public, and no public access block (the bucket's or the account's) neutralises
# that. The collectors weigh all of it (elava/catalogue/storage.py) into
# attributes.public_via; a bucket merely without a block is not public.
package elava.s3_public_access

import rego.v1

deny contains msg if {
	"acl" in input.resource.attributes.public_via
	grants := input.resource.attributes.acl_public_grants
	# concat, not sprintf: regopy 1.5 breaks sprintf("%s", [concat(...)]) (unescaped quotes).
	msg := concat("", ["bucket ", input.resource.id, " is public: its ACL grants ", concat(", ", grants)])
}

deny contains msg if {
	"policy" in input.resource.attributes.public_via
	msg := sprintf("bucket %s is public: its bucket policy allows anyone", [input.resource.id])
}
