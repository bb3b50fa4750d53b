"""The topic catalog: every topic Elava reads or writes, with its Kafka configs."""

from __future__ import annotations

from dataclasses import dataclass, field

from elava.settings import KafkaSettings

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TopicSpec:
    suffix: str
    description: str
    key: str
    cleanup_policy: str = "delete"
    retention_ms: int | None = 7 * DAY_MS
    extra: dict[str, str] = field(default_factory=dict)
    # Created with max.message.bytes = kafka.max_message_bytes: what collectors write
    # there is sized (pages) or chunked below it, so the limit must be the one they use.
    sized: bool = False

    def name(self, prefix: str) -> str:
        return f"{prefix}.{self.suffix}"

    def configs(self, max_message_bytes: int | None = None) -> dict[str, str]:
        configs = {"cleanup.policy": self.cleanup_policy, **self.extra}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        if self.sized and max_message_bytes is not None:
            configs["max.message.bytes"] = str(max_message_bytes)
        return configs


CATALOG: tuple[TopicSpec, ...] = (
    TopicSpec("observations", "pages of observed resources, the scan markers that close them, their metric samples",
              key="shard key account/region/type/bucket", retention_ms=3 * DAY_MS, sized=True),
    TopicSpec("scan-markers", "one record per finished account/region/type scan, ok or failed",
              key="account/region/type", retention_ms=30 * DAY_MS),
    TopicSpec("scan-requests", "work for collectors, shared by partition in one consumer group",
              key="account id", retention_ms=1 * DAY_MS),
    TopicSpec("cloudtrail", "normalised CloudTrail events, one per touched resource",
              key="shard key of the resource", retention_ms=7 * DAY_MS),
    # Compacted: the latest position per source/account/region survives restarts and is
    # shared by every collector; no retention (compaction keeps one value per key).
    TopicSpec("checkpoints", "where each CloudTrail source got to (LookupEvents time, last S3 key)",
              key="source/account/region", cleanup_policy="compact", retention_ms=None),
    TopicSpec("changes", "created/modified/deleted versions with field diffs", key="uid",
              retention_ms=30 * DAY_MS),
    TopicSpec("attributed-changes", "changes joined with who made them", key="uid",
              retention_ms=30 * DAY_MS),
    TopicSpec("drift", "configuration drift of existing resources", key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("patterns", "lifecycle patterns: recreated, short-lived, flapping, scheduled resources",
              key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("waste", "idle, orphaned and oversized resources", key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("policy-decisions", "OPA policy results", key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("actions", "actions requested by policies", key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("action-results", "what the executor did (or would do in dry-run)", key="uid",
              retention_ms=90 * DAY_MS),
    # Compacted: the executor's write-ahead record per action (started, done, scheduled),
    # read back on start so that no action runs twice across crashes and rebalances.
    TopicSpec("executor-ledger", "what the executor has begun and finished, per action id",
              key="action event id", cleanup_policy="compact", retention_ms=None),
    TopicSpec("ocsf", "OCSF-formatted findings for SIEMs", key="uid", retention_ms=30 * DAY_MS),
    TopicSpec("dlq", "messages that could not be processed: original key, bytes and headers; reason and origin added",
              key="original key", retention_ms=30 * DAY_MS),
    # Compacted: which DLQ entries `elava dlq replay` sent back, so a second run does not
    # send them again; kept longer than the DLQ entries it describes.
    TopicSpec("dlq-replays", "DLQ entries replayed: when, and where the copy went",
              key="dlq partition/offset", cleanup_policy="compact,delete", retention_ms=60 * DAY_MS),
    # Compacted: the kafka.shard_buckets the worker's store was built with, so that a
    # collector or worker set to another value refuses to start (streams/layout.py).
    TopicSpec("layout", "the shard layout (kafka.shard_buckets) the worker's store was built with",
              key="setting name", cleanup_policy="compact", retention_ms=None),
)

_BY_SUFFIX = {spec.suffix: spec for spec in CATALOG}


class Topics:
    """Topic names for one prefix (the prefix lets tests and tenants stay apart)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.prefix = settings.topic_prefix
        self.partitions = settings.partitions
        self.replication_factor = settings.replication_factor
        self.max_message_bytes = settings.max_message_bytes

    def __getattr__(self, attr: str) -> str:
        suffix = attr.replace("_", "-")
        if suffix not in _BY_SUFFIX:
            raise AttributeError(attr)
        return _BY_SUFFIX[suffix].name(self.prefix)

    def all(self) -> list[tuple[str, TopicSpec]]:
        return [(spec.name(self.prefix), spec) for spec in CATALOG]
