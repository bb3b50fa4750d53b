"""Fixtures for the collector tests: one moto server for the session, reset per test.

AWS is moto in server mode (aioboto3 speaks HTTP to it); resources are created with
plain boto3 against the same server, then scanned with the real scanner.
"""

from __future__ import annotations

import random
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from collectors.aws.calls import Backoff
from collectors.aws.scanner import ScanReport, scan_account
from collectors.redact import Redactor
from collectors.sink import ListSink
from elava.catalogue.types import ResourceType
from tests.unit.elava.catalogue.round_trip import problems
from tests.unit.elava.catalogue.test_relations import edge_roots

ACCOUNT = "123456789012"  # moto's default account
# Our retry in tests: as many attempts as in production, but no real waiting.
FAST_BACKOFF = Backoff(attempts=10, base_seconds=0.001, cap_seconds=0.005)
# One key for every scan of a test: the same secret, the same digest.
REDACTOR = Redactor(b"collector-tests-redaction-key-0123456789")
_AWS_ENV_TO_CLEAR = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                     "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy credentials, us-east-1, and an empty moto: every test starts from nothing
    (no public AMI catalogue either)."""
    for name in _AWS_ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    # moto's catalogue of public AMIs comes with ~1,200 snapshots of other owners, and
    # moto ignores describe_snapshots(OwnerIds=["self"]): without the catalogue, the
    # account holds only what a test made (read when moto builds a region's backend).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).close()
    return moto_url


@pytest.fixture
def boto(aws: str) -> Callable[..., Any]:
    """``boto("ec2", "eu-west-1")``: a plain boto3 client on moto, to set the scene."""

    def make(service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=aws)

    return make


@pytest.fixture
def session(aws: str) -> aioboto3.Session:
    return aioboto3.Session(region_name="us-east-1")


@pytest.fixture
def ami() -> str:
    # moto does not check that an AMI exists; listing its catalogue would cost ~0.6 s a test.
    return "ami-12c6146b"


@dataclass
class ScanRun:
    sink: ListSink
    report: ScanReport

    def resources(self, type_name: str | None = None) -> list:
        return self.sink.resources(type_name)

    def markers(self, type_name: str, region: str | None = None) -> list:
        return [m for m in self.sink.markers if m.type == type_name and (region is None or m.region == region)]


@pytest.fixture
def scan(aws: str, session: aioboto3.Session) -> Callable[..., Any]:
    """``await scan([types], regions=[...], buckets=4, page_size=100)`` -> `ScanRun`."""

    async def run(types: list[ResourceType], *, regions: list[str] | None = None, buckets: int = 4,
                  page_size: int = 100, scan_id: str = "scan-1", **options: Any) -> ScanRun:
        sink = options.pop("sink", None)
        sink = ListSink() if sink is None else sink
        options.setdefault("backoff", FAST_BACKOFF)
        options.setdefault("seed", 7)
        options.setdefault("redactor", REDACTOR)
        report = await scan_account(
            options.pop("session", session), ACCOUNT, regions or ["us-east-1"], types, sink,
            buckets=buckets, page_size=page_size, endpoint_url=aws, scan_id=scan_id, **options,
        )
        check_trail_round_trip(sink)
        check_edges_read_published_attributes(sink)
        return ScanRun(sink, report)

    return run


def check_trail_round_trip(sink: object, per_type: int = 3) -> None:
    """Every type's moto test checks that a CloudTrail record naming what it scanned gives
    back the same uid, id and shard (`tests.unit.elava.catalogue.round_trip`)."""
    checked: Counter[str] = Counter()
    for observation in getattr(sink, "observations", []):
        for resource in observation.resources:
            if checked[resource.type] < per_type:
                checked[resource.type] += 1
                assert not (found := problems(resource, observation.region)), found


def check_edges_read_published_attributes(sink: object) -> None:
    """Every type's moto test checks that its edges read attributes the collector publishes."""
    for resource in (r for observation in getattr(sink, "observations", []) for r in observation.resources):
        missing = [(edge, root) for edge, root in edge_roots(resource.type) if root not in resource.attributes]
        assert not missing, f"{resource.type}: edges read attributes it does not publish: {missing}"


class FaultInjector:
    """Makes AWS calls of a session fail, the way botocore would report it (ClientError).

    Hooks are botocore ``before-call`` handlers: they raise before the request is
    sent, which botocore's own retries never see, so only our backoff can recover.
    """

    def __init__(self, session: aioboto3.Session) -> None:
        self._session = session
        self.injected: list[str] = []

    def fail(self, event: str, code: str | None = None, *, exception: Exception | None = None,
             probability: float = 1.0, seed: int = 0, when: Callable[[dict], bool] | None = None,
             times: int | None = None) -> None:
        """Fail calls matching ``event`` (``before-call.ec2.DescribeSecurityGroups``,
        ``before-call.s3``) with error ``code`` (or ``exception``): always, or with
        ``probability`` (seeded), and only when ``when(request)`` holds (botocore's
        request dict: for EC2's query protocol the parameters are in ``request["body"]``),
        at most ``times`` times."""
        rng = random.Random(seed)
        done: list[str] = []

        def hook(model: Any, params: dict, **_: Any) -> None:
            if times is not None and len(done) >= times:
                return
            if (when is None or when(params)) and rng.random() < probability:
                done.append(model.name)
                self.injected.append(model.name)
                raise exception or ClientError({"Error": {"Code": code, "Message": "injected by a test"}}, model.name)

        self._session.events.register(event, hook)


@pytest.fixture
def faults(session: aioboto3.Session) -> FaultInjector:
    return FaultInjector(session)
