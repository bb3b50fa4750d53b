"""CloudTrail sources: LookupEvents, EventBridge via SQS, log files in S3.

Each is get → transform → publish: records become `TrailEvent`s (one per touched
resource, `collectors.cloudtrail.normalize.records.trail_events`) on ``<prefix>.cloudtrail``,
keyed by the shard key of the resource, and each remembers where it got to in the
compacted ``<prefix>.checkpoints`` topic.
"""
