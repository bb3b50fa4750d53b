"""The resource-type catalogue: everything any layer knows about a type, written once.

A type is declared in its family module (`compute`, `storage`, `network`, `volumes`,
`databases`, `identity`): how it is listed and described (`types`), its uid and ARN
rules (`arns`), its CloudTrail families (`trail`), how the executor describes it by
id. The collectors, attribution, the executor, the docs and the IAM policy read it
through `registry`; shared constants live in `constants`. Nothing here imports boto,
Faust or a Kafka client, so the core may read it.
"""
