"""Settings: one frozen object from `elava.yaml` plus `ELAVA_*` environment variables.

Nested fields use a double underscore in the environment, e.g.
``ELAVA_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092``. Environment beats the file.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from platformdirs import user_data_dir
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from elava.exceptions import SettingsError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """'30d', '2h', '90s', a number of seconds (also as text), or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 2h, 30d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AwsSettings(Section):
    regions: list[str] = Field(default_factory=lambda: ["us-east-1"], min_length=1)
    accounts: list[str] = Field(default_factory=list)
    role_name: str | None = None
    external_id: SecretStr | None = None
    endpoint_url: str | None = None
    max_concurrency: int = Field(default=8, ge=1, le=256)
    organizations: bool = False  # discover accounts with organizations:ListAccounts
    # Accounts scanned at once: one slow or failing account must not hold the others.
    account_concurrency: int = Field(default=4, ge=1, le=256)
    # AWS calls per second in each account/region (a token bucket; 0: unlimited).
    # AWS throttles per account and region; staying under its rate beats retrying.
    calls_per_second: float = Field(default=50.0, ge=0)


class TierSettings(Section):
    """A tier: which accounts and resources belong to it, and how often to scan them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    interval: Duration = timedelta(hours=1)
    accounts: list[str] = Field(default_factory=lambda: ["*"])
    tags: dict[str, str] = Field(default_factory=dict)
    types: list[str] = Field(default_factory=list)  # empty: every type

    def has_account(self, account: str) -> bool:
        return "*" in self.accounts or account in self.accounts


class CollectorSettings(Section):
    group_id: str = "elava-collectors"
    # A scan of a large account can take long; the group must not evict its collector.
    max_scan_time: Duration = timedelta(minutes=30)


class ProvidersSettings(Section):
    aws: AwsSettings = AwsSettings()


class StorageSettings(Section):
    path: Path = Field(default_factory=lambda: Path(user_data_dir("elava")) / "store")
    retention: Duration = timedelta(days=30)


class DriftSettings(Section):
    enabled: bool = True
    attribution: bool = True


class WasteSettings(Section):
    enabled: bool = True
    idle_threshold: Duration = timedelta(days=7)


class AnalyzerSettings(Section):
    drift: DriftSettings = DriftSettings()
    waste: WasteSettings = WasteSettings()


class PolicySettings(Section):
    # The ceiling for every policy: a policy's own mode (its .yaml) can only be stricter.
    enforcement_mode: Literal["monitor", "notify", "enforce"] = "notify"
    enabled: bool = True
    path: Path | None = None  # a directory of <name>.rego (+ .yaml); unset: the policies shipped with Elava


class ExecutorSettings(Section):
    """`elava executor`: carries out actions. Nothing changes in AWS unless dry_run is false."""

    app_id: str = "elava-executor"  # consumer group of the executors
    dry_run: bool = True
    # A destructive action is announced, then waits this long before it may run.
    grace_period: Duration = timedelta(hours=24)
    notify_webhook: SecretStr | None = None  # POSTed JSON for every notification; the URL may hold a token
    protect_tag: str = "elava:protect"  # a resource carrying this tag is never changed
    # How long a crashed executor keeps its partitions before the group takes them back.
    session_timeout: Duration = timedelta(seconds=10)


class KafkaSettings(Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(default="elava", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=8, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    shard_buckets: int = Field(default=16, ge=1, le=4096)
    page_size: int = Field(default=500, ge=1, le=5000)
    # The observations topic's max.message.bytes (set when Elava creates it) and the
    # producer's max_request_size: pages are split below it, anything larger is chunked.
    max_message_bytes: int = Field(default=1024 * 1024, ge=16 * 1024, le=64 * 1024 * 1024)


class WorkerSettings(Section):
    app_id: str = "elava-worker"
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("elava")) / "worker")
    web_port: int = Field(default=6066, ge=0, le=65535)  # the read-only query API; 0 turns it off
    web_host: str = "127.0.0.1"  # 0.0.0.0 to serve other hosts (it has no authentication)
    # How long a crashed worker keeps its partitions before the group takes them back.
    session_timeout: Duration = timedelta(seconds=30)
    # Memory of each partition's RocksDB: memtables (size x count) and the block cache.
    # Faust's defaults (64 MiB x 3 and a 2 GiB cache, per partition) let a worker with 8
    # partitions grow past 3 GiB for a million resources (measured).
    rocksdb_write_buffer_mib: int = Field(default=16, ge=1, le=1024)
    rocksdb_write_buffers: int = Field(default=2, ge=2, le=16)
    rocksdb_block_cache_mib: int = Field(default=64, ge=1, le=65536)


TrailSource = Literal["lookup", "eventbridge", "s3"]


class CloudTrailSettings(Section):
    """Where `elava trail collect` reads CloudTrail from (see docs/attribution.md, Sources)."""

    sources: list[TrailSource] = Field(default_factory=lambda: ["lookup"])
    sqs_queue_url: str | None = None  # eventbridge: the queue an EventBridge rule feeds
    s3_bucket: str | None = None  # s3: the trail's bucket
    s3_prefix: str = ""  # s3: the trail's key prefix (what comes before AWSLogs/)
    s3_organization_id: str | None = None  # s3: an organization trail's o-... directory
    poll_interval: Duration = timedelta(minutes=1)
    lookback: Duration = timedelta(hours=1)  # how far back the first LookupEvents poll goes
    sqs_wait: Duration = timedelta(seconds=20)  # SQS long poll (20 s is SQS's maximum)

    @model_validator(mode="after")
    def _sources_have_their_settings(self) -> CloudTrailSettings:
        if "eventbridge" in self.sources and not self.sqs_queue_url:
            raise ValueError("source 'eventbridge' needs cloudtrail.sqs_queue_url")
        if "s3" in self.sources and not self.s3_bucket:
            raise ValueError("source 's3' needs cloudtrail.s3_bucket")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix="ELAVA_", env_nested_delimiter="__"
    )

    providers: ProvidersSettings = ProvidersSettings()
    storage: StorageSettings = StorageSettings()
    analyzer: AnalyzerSettings = AnalyzerSettings()
    policies: PolicySettings = PolicySettings()
    kafka: KafkaSettings = KafkaSettings()
    worker: WorkerSettings = WorkerSettings()
    executor: ExecutorSettings = ExecutorSettings()
    collector: CollectorSettings = CollectorSettings()
    cloudtrail: CloudTrailSettings = CloudTrailSettings()
    tiers: list[TierSettings] = Field(default_factory=lambda: [TierSettings(name="default")], min_length=1)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments, then environment, then the YAML file passed as init data.
        return (env_settings, init_settings)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a mapping at the top level")
    return data


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        lines.append(f"invalid setting '{field}': {item['msg']}")
    return "\n".join(lines)


def default_config_path() -> Path | None:
    explicit = os.environ.get("ELAVA_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("elava.yaml")
    return local if local.exists() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from YAML (if any), environment, then overrides; fail naming the field."""
    path = path or default_config_path()
    data = _read_yaml(path) if path else {}
    for dotted, value in overrides.items():
        if value is not None:
            _set_dotted(data, dotted, value)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from exc


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split("__")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
