"""Settings: one frozen object from `elava.yaml` plus `ELAVA_*` environment variables.

Nested fields use a double underscore in the environment, e.g.
``ELAVA_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:9092``. Environment beats the file.
"""

from __future__ import annotations

import importlib.util
import os
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from platformdirs import user_data_dir
from pydantic import (
    AfterValidator,
    Field,
    FilePath,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from elava.analyzer_settings import (  # noqa: F401  (re-exported: one import place for settings)
    AnalyzerSettings,
    DriftIgnoreRule,
    DriftSettings,
    PatternSettings,
    WasteSettings,
)
from elava.exceptions import SettingsError
from elava.settings_base import Duration, Section, parse_duration  # noqa: F401  (re-exported)


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
    # Long-running collectors reuse a resource's details while its listed view is unchanged
    # and no CloudTrail event named it; every resource's details are asked again within
    # this interval, so a change CloudTrail does not record is still found (0: every scan).
    detail_refresh_interval: Duration = Field(default=timedelta(hours=6), ge=timedelta(0))


class TierSettings(Section):
    """A tier: which accounts and resources belong to it, and how often to scan them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    interval: Duration = timedelta(hours=1)
    accounts: list[str] = Field(default_factory=lambda: ["*"])
    tags: dict[str, str] = Field(default_factory=dict)
    types: list[str] = Field(default_factory=list)  # empty: every type

    def has_account(self, account: str) -> bool:
        return "*" in self.accounts or account in self.accounts


def _long_secret(minimum: int) -> AfterValidator:
    def check(value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < minimum:
            raise ValueError(f"must be at least {minimum} characters (e.g. the output of: openssl rand -hex 32)")
        return value
    return AfterValidator(check)


class CollectorSettings(Section):
    group_id: str = "elava-collectors"
    # A scan of a large account can take long; the group must not evict its collector.
    max_scan_time: Duration = timedelta(minutes=30)
    # Secrets are published as HMAC digests under this key, so a guess cannot be checked
    # offline. Every collector of one installation needs the same key (docs/operations.md).
    # Neither set: a key file created on first use in the data directory (one machine only).
    redaction_key: Annotated[SecretStr | None, _long_secret(32)] = None
    redaction_key_file: Path | None = None  # a file holding the key (e.g. a mounted secret)

    @model_validator(mode="after")
    def _one_redaction_key(self) -> CollectorSettings:
        if self.redaction_key is not None and self.redaction_key_file is not None:
            raise ValueError("set collector.redaction_key or collector.redaction_key_file, not both")
        return self


class ProvidersSettings(Section):
    aws: AwsSettings = AwsSettings()


class StorageSettings(Section):
    path: Path = Field(default_factory=lambda: Path(user_data_dir("elava")) / "store")
    retention: Duration = timedelta(days=30)


class PolicySettings(Section):
    # The ceiling for every policy: a policy's own mode (its .yaml) can only be stricter.
    enforcement_mode: Literal["monitor", "notify", "enforce"] = "notify"
    enabled: bool = True
    path: Path | None = None  # a directory of <name>.rego (+ .yaml); unset: the policies shipped with Elava
    # The policy stage (`elava policy serve`) reads elava.attributed-changes in its own consumer
    # group, so that the worker never waits for policies; `elava worker` runs it as a supervised
    # child unless stage_in_worker is false (then run `elava policy serve` apart, as many as needed).
    app_id: str = "elava-policies"
    stage_in_worker: bool = True
    # One evaluation may run this long; then its process is replaced and the change gets a
    # decision "error" naming the policy (a looping rule must not hold the stage).
    evaluation_timeout: Duration = Field(default=timedelta(seconds=5), gt=timedelta(0))
    # Which evaluator runs the policies (docs/policies.md, Engines): "wasm" runs the policies
    # compiled by OPA (`elava policy build`, elava-policies.wasm beside them) in wasmtime, about
    # ten times faster; "regopy" interprets any policy directory; "auto" takes the compiled
    # module when it was built from the policies as they are, else regopy.
    engine: Literal["auto", "wasm", "regopy"] = "auto"


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
    # Without a signing key anyone who can write to the actions topic could make an
    # enforcing executor act: it refuses to start so unless this says it is meant.
    allow_unsigned: bool = False
    slack_webhook: SecretStr | None = None  # a Slack incoming webhook: one message per notification
    sns_topic_arn: str | None = Field(default=None, pattern=r"^arn:[a-z-]+:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")  # one message per notification


class SigningSettings(Section):
    """HMAC-SHA256 keys of action requests: the policy stage signs, the executor verifies."""

    key_id: str = "k1"  # the key that signs; its id travels in the elava_key_id header
    # key id -> key. Every key given here (or in key_files) verifies: two during a rotation.
    keys: dict[str, SecretStr] = Field(default_factory=dict)
    key_files: dict[str, Path] = Field(default_factory=dict)  # key id -> a file holding the key

    @model_validator(mode="after")
    def _signing_key_is_given(self) -> SigningSettings:
        both = set(self.keys) & set(self.key_files)
        if both:
            raise ValueError(f"key ids {sorted(both)} are in both keys and key_files")
        given = set(self.keys) | set(self.key_files)
        if given and self.key_id not in given:
            raise ValueError(f"key_id {self.key_id!r} names none of the keys given ({', '.join(sorted(given))})")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.keys or self.key_files)


SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "AWS_MSK_IAM"]
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


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
    # Security of every client (collectors, worker, executor, CLI); docs/operations.md, Kafka security.
    # TLS with SSL and SASL_SSL: the CA that signed the brokers' certificates (unset: the system's),
    # and a client certificate + key (PEM) where the brokers ask for one (mutual TLS).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl_cafile: FilePath | None = None
    ssl_certfile: FilePath | None = None
    ssl_keyfile: FilePath | None = None  # unset: the key is in ssl_certfile
    ssl_key_password: SecretStr | None = None
    # SASL with SASL_PLAINTEXT and SASL_SSL. AWS_MSK_IAM signs a token with the AWS credentials
    # of the process (pip install 'elava[msk]'): no username or password.
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    msk_region: str | None = None  # AWS_MSK_IAM: the cluster's region

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        problem = kafka_security_problem(self)
        if problem:
            raise ValueError(problem)
        return self


def kafka_security_problem(kafka: KafkaSettings) -> str | None:
    """What is missing or contradictory in the security settings (None: they hold together)."""
    protocol = kafka.security_protocol
    tls = (("ssl_cafile", kafka.ssl_cafile), ("ssl_certfile", kafka.ssl_certfile),
           ("ssl_keyfile", kafka.ssl_keyfile), ("ssl_key_password", kafka.ssl_key_password))
    for name, value in tls:
        if value is not None and protocol not in TLS_PROTOCOLS:
            return f"kafka.{name} is set but kafka.security_protocol is {protocol} (use SSL or SASL_SSL)"
    if (kafka.ssl_keyfile or kafka.ssl_key_password) and not kafka.ssl_certfile:
        return "kafka.ssl_keyfile and kafka.ssl_key_password need kafka.ssl_certfile (the client certificate)"
    if protocol not in SASL_PROTOCOLS:
        for name in ("sasl_mechanism", "sasl_username", "sasl_password", "msk_region"):
            if getattr(kafka, name) is not None:
                return f"kafka.{name} is set but kafka.security_protocol is {protocol} (use SASL_SSL)"
        return None
    return _sasl_problem(kafka)


def _sasl_problem(kafka: KafkaSettings) -> str | None:
    protocol, mechanism = kafka.security_protocol, kafka.sasl_mechanism
    if mechanism is None:
        return (f"kafka.sasl_mechanism is required with security_protocol {protocol} "
                "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM)")
    if mechanism == "AWS_MSK_IAM":
        return _msk_problem(kafka)
    if kafka.msk_region is not None:
        return f"kafka.msk_region is only used with sasl_mechanism AWS_MSK_IAM, not {mechanism}"
    for name in ("sasl_username", "sasl_password"):
        if not getattr(kafka, name):
            return f"kafka.{name} is required with security_protocol {protocol} and sasl_mechanism {mechanism}"
    return None


def _msk_problem(kafka: KafkaSettings) -> str | None:
    if kafka.security_protocol != "SASL_SSL":
        return "sasl_mechanism AWS_MSK_IAM needs kafka.security_protocol SASL_SSL (MSK serves IAM over TLS only)"
    for name in ("sasl_username", "sasl_password"):
        if getattr(kafka, name) is not None:
            return f"kafka.{name} is not used with AWS_MSK_IAM (the AWS credentials of the process sign a token)"
    if not kafka.msk_region:
        return "kafka.msk_region is required with sasl_mechanism AWS_MSK_IAM (the cluster's region)"
    if importlib.util.find_spec("aws_msk_iam_sasl_signer") is None:
        return "sasl_mechanism AWS_MSK_IAM needs the MSK signer: pip install 'elava[msk]'"
    return None


class WorkerSettings(Section):
    app_id: str = "elava-worker"
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("elava")) / "worker")
    web_port: int = Field(default=6066, ge=0, le=65535)  # the read-only query API; 0 turns it off
    web_host: str = "127.0.0.1"  # beyond loopback only with api_token (docs/api.md)
    # Required as "Authorization: Bearer <token>" by every request to the worker's web server.
    api_token: Annotated[SecretStr | None, _long_secret(16)] = None
    # Serve the query API beyond loopback without a token: to anyone who can reach the port.
    insecure_api_without_token: bool = False
    # Faust's own pages (/table/, /router/, /graph/, statistics) expose table data and topology.
    faust_pages: bool = False
    # How long a crashed worker keeps its partitions before the group takes them back.
    session_timeout: Duration = timedelta(seconds=30)
    # This worker's static member name in the group (Kafka's group.instance.id): restarted
    # under the same name it takes its partitions back at once, without a rebalance. One per
    # worker process of a group. Unset: the host name and a digest of data_dir.
    instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    # Input waiting and no progress this long (nothing applied, committed or restored): the
    # worker exits with code 75 for its supervisor to start it again (Faust's recovery can
    # stall after a restart; docs/operations.md). 0 turns the watch off.
    stall_timeout: Duration = Field(default=timedelta(minutes=5), ge=timedelta(0))
    # Warm copies of other workers' table partitions (Faust standby replicas): a failed
    # worker's partitions move to one that already holds them instead of replaying the changelog.
    standby_replicas: int = Field(default=0, ge=0, le=8)
    # Where the other workers reach this one's query API (Faust's canonical_url): any worker
    # answers for the whole group by asking the others (docs/api.md). Unset: http://<web_host>:
    # <web_port>, with this host's name when web_host is 0.0.0.0 or ::.
    advertised_url: str | None = Field(default=None, pattern=r"^https?://[^/]+/?$")
    # RocksDB memory of the whole worker, however many partitions it holds: one block cache
    # they share (also holding index and filter blocks), charged for their memtables, which
    # get at most half of it. Per-partition caches grew with partitions and data (measured:
    # 1,366 MiB at a million resources with 64 MiB each; Faust's defaults passed 3 GiB).
    rocksdb_memory_mib: int = Field(default=256, ge=16, le=65536)
    # One partition's memtable: it is flushed to disk at this size (or sooner, when the
    # memtables of all partitions reach their share of rocksdb_memory_mib).
    rocksdb_write_buffer_mib: int = Field(default=16, ge=1, le=1024)
    rocksdb_write_buffers: int = Field(default=2, ge=2, le=16)
    # The stages the worker runs beside itself (policies.stage_in_worker, analyzer.patterns.
    # fleet_stage_in_worker) run this much nicer than it (Unix nice): on a busy host change
    # capture gets the CPU first and decisions and patterns catch up after. 0: the same priority.
    stage_nice: int = Field(default=10, ge=0, le=19)


class ApiSettings(Section):
    """Where `elava history`, `at`, `changes`, `diff`, `who` (and --api commands) ask a worker
    instead of reading the local store; they send worker.api_token (docs/api.md)."""

    url: str | None = Field(default=None, pattern=r"^https?://[^/]+/?$")  # any worker of the group
    # How long a query keeps asking while the workers rebalance (they answer 503 meanwhile).
    timeout: Duration = Field(default=timedelta(seconds=60), gt=timedelta(0))


TrailSource = Literal["lookup", "eventbridge", "s3"]


class CloudTrailSettings(Section):
    """Where `elava trail collect` reads CloudTrail from (see docs/attribution.md, Sources)."""

    sources: list[TrailSource] = Field(default_factory=lambda: ["lookup"])
    sqs_queue_url: str | None = None  # eventbridge: the queue an EventBridge rule feeds
    s3_bucket: str | None = None  # s3: the trail's bucket
    s3_prefix: str = ""  # s3: the trail's key prefix (what comes before AWSLogs/)
    s3_organization_id: str | None = None  # s3: an organization trail's o-... directory
    # s3: how late a log file may land after files named for later minutes and still be read
    s3_late_delivery: Duration = Field(default=timedelta(hours=1), gt=timedelta(0))
    poll_interval: Duration = timedelta(minutes=1)
    lookback: Duration = timedelta(hours=1)  # how far back the first poll goes (LookupEvents, S3 files)
    # lookup: how late an event may appear after newer ones and still be read (each poll reads it again)
    lookup_late_delivery: Duration = Field(default=timedelta(minutes=15), gt=timedelta(0))
    sqs_wait: Duration = timedelta(seconds=20)  # SQS long poll (20 s is SQS's maximum)

    @model_validator(mode="after")
    def _sources_have_their_settings(self) -> CloudTrailSettings:
        if "eventbridge" in self.sources and not self.sqs_queue_url:
            raise ValueError("source 'eventbridge' needs cloudtrail.sqs_queue_url")
        if "s3" in self.sources and not self.s3_bucket:
            raise ValueError("source 's3' needs cloudtrail.s3_bucket")
        return self


TraceExporter = Literal["none", "otlp", "console", "file"]
MetricExporter = Literal["none", "otlp", "prometheus", "console"]


class TelemetrySettings(Section):
    """OpenTelemetry (elava/telemetry, docs/operations.md): traces and metrics, each off unless
    an exporter is chosen. Off, no SDK is loaded: the pipeline pays nothing for it."""

    traces: TraceExporter = "none"  # file: one JSON span per line, appended to file_path
    metrics: MetricExporter = "none"  # prometheus: a scrape endpoint on prometheus_host:prometheus_port
    service_name: str = "elava"  # each part reports as <service_name>-<part> (collector, worker, ...)
    otlp_endpoint: str = "http://127.0.0.1:4318"  # OTLP/HTTP; /v1/traces and /v1/metrics are appended
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict)  # e.g. a hosted backend's API key
    prometheus_host: str = "127.0.0.1"
    # The worker's policy stage (its child) serves on the next port: both run on one host.
    prometheus_port: int = Field(default=9464, ge=1, le=65534)
    file_path: Path | None = None
    # Of new traces (scans, trail events): a trace is kept or dropped whole, every part follows its parent.
    sample_ratio: float = Field(default=1.0, ge=0, le=1)
    export_interval: Duration = Field(default=timedelta(seconds=60), ge=timedelta(seconds=1))  # otlp, console

    @model_validator(mode="after")
    def _file_exporter_has_its_file(self) -> TelemetrySettings:
        if (self.traces == "file") != (self.file_path is not None):
            raise ValueError("telemetry.traces: file and telemetry.file_path go together")
        return self

    @field_validator("traces", "metrics")
    @classmethod
    def _exporter_package_is_installed(cls, exporter: str) -> str:
        module = {"otlp": "opentelemetry.exporter.otlp.proto.http", "prometheus": "opentelemetry.exporter.prometheus"}
        if exporter in module and not _importable(module[exporter]):
            raise ValueError(f"exporter {exporter} needs its package: pip install 'elava[telemetry]'")
        return exporter

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp_endpoint_is_a_url(cls, endpoint: str) -> str:
        # Checked here: the exporter would only fail at its first export, long after start-up.
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{endpoint!r} is not an http(s) URL, e.g. http://otel-collector:4318")
        return endpoint

    @field_validator("file_path")
    @classmethod
    def _file_path_is_writable(cls, path: Path | None) -> Path | None:
        # Spans are appended from the first one on: a file that cannot be written stops start-up instead.
        if path is None:
            return path
        if path.exists():
            if path.is_dir() or not os.access(path, os.W_OK):  # /dev/null too
                raise ValueError(f"{path} is not a writable file")
        elif not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
            raise ValueError(f"cannot create {path}: {path.parent} is not a writable directory")
        return path


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


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
    signing: SigningSettings = SigningSettings()
    collector: CollectorSettings = CollectorSettings()
    cloudtrail: CloudTrailSettings = CloudTrailSettings()
    api: ApiSettings = ApiSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    tiers: list[TierSettings] = Field(default_factory=lambda: [TierSettings(name="default")], min_length=1)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments (command-line flags), then the environment, then the YAML file.
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=_FILE_DATA.get()))


# The YAML file's data while load_settings builds Settings: a source of its own, so that
# the environment beats the file and command-line flags beat the environment.
_FILE_DATA: ContextVar[dict[str, Any]] = ContextVar("elava_settings_file", default={})  # noqa: B039


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"settings file {path}{_yaml_place(exc)} is not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {path} must hold a mapping at the top level")
    return data


def _yaml_place(error: yaml.YAMLError) -> str:
    # PyYAML names a string it was given "<unicode string>": the place is ours to say.
    mark = getattr(error, "problem_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}," if mark else ""


def _yaml_problem(error: yaml.YAMLError) -> str:
    return " ".join(str(getattr(error, "problem", None) or error).split())


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")  # a validator's own words are enough
        lines.append(f"invalid setting '{field}': {message}")
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
    explicit: dict[str, Any] = {}
    for dotted, value in overrides.items():
        if value is not None:
            _set_dotted(explicit, dotted, value)
    token = _FILE_DATA.set(_read_yaml(path) if path else {})
    try:
        return Settings(**explicit)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from exc
    finally:
        _FILE_DATA.reset(token)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split("__")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
