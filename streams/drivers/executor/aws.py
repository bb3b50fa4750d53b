"""Effectors: how each (action, resource type) is checked and carried out in AWS.

The look before acting is generic: the resource is described by id exactly as a scan
builds it (`collectors.aws.lookup`, from the type's declaration), so the same
`Resource` serves the policy's re-evaluation, the protect tag and the effector's own
check. An effector only says, from that resource, whether its action is already done
or still applies (``inspect``, pure), and makes exactly one mutating call (``apply``).
What is not in the catalogue fails clearly ("no effector"), it is never guessed.

Every AWS request is recorded with its request id (`AwsCall`), and each account's
principal is asked of STS once: the results say who did what, with which calls.
Sessions come from the collectors' session code (the same credentials, assumed role
and ``providers.aws.endpoint_url``), under their own session name.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws.calls import AwsCaller, Backoff, BoundClient, ClientPool
from collectors.aws.lookup import describe_resource
from collectors.aws.session import plain_session, session_for_account
from collectors.redact import Redactor
from elava.catalogue import registry
from elava.events import ActionRequest, AwsCall, Resource
from elava.settings import AwsSettings
from streams.executor.exceptions import EffectorError
from streams.executor.plan import Inspection, resource_id

# The executor's fresh look at a resource never leaves the process and is never compared
# with stored digests: a key of its own keeps secrets out of its memory without sharing the
# collectors' key with it.
REDACTOR = Redactor.ephemeral()

SESSION_NAME = "elava-executor"
BACKOFF = Backoff(attempts=3, base_seconds=0.5, cap_seconds=5.0)  # on top of botocore's own retries


class Effector(Protocol):
    service: str

    def inspect(self, resource: Resource, request: ActionRequest) -> Inspection: ...

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str: ...


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _tags_done(tags: dict[str, str], request: ActionRequest, remove: bool) -> bool:
    wanted = request.params.get("tags") or {}
    if remove:
        return not any(k in tags for k in wanted)
    return all(tags.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class Ec2Tags:
    """tag / untag any EC2 resource: create_tags / delete_tags."""

    remove: bool = False
    service: str = "ec2"

    def inspect(self, resource: Resource, request: ActionRequest) -> Inspection:
        return Inspection(exists=True, done=_tags_done(resource.tags, request, self.remove))

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        wanted = request.params["tags"]
        if self.remove:
            await client.delete_tags(Resources=[rid], Tags=[{"Key": k} for k in wanted])
            return f"removed tags {', '.join(wanted)} from {rid}"
        await client.create_tags(Resources=[rid], Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
        return f"tagged {rid}"


@dataclass(frozen=True)
class BucketTags:
    """tag / untag an S3 bucket: its tag set is replaced as a whole, so merge first."""

    remove: bool = False
    service: str = "s3"

    def inspect(self, resource: Resource, request: ActionRequest) -> Inspection:
        return Inspection(exists=True, done=_tags_done(resource.tags, request, self.remove))

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        tags = await self._current(client, rid)
        wanted = request.params["tags"]
        if self.remove:
            tags = {k: v for k, v in tags.items() if k not in wanted}
        else:
            tags.update(wanted)
        if tags:
            await client.put_bucket_tagging(Bucket=rid, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
        else:
            await client.delete_bucket_tagging(Bucket=rid)
        return f"{'untagged' if self.remove else 'tagged'} bucket {rid}"

    @staticmethod
    async def _current(client: Any, bucket: str) -> dict[str, str]:
        try:
            answer = await client.get_bucket_tagging(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) == "NoSuchTagSet":
                return {}
            raise
        return {t["Key"]: t.get("Value", "") for t in answer.get("TagSet") or []}


_STOPPED = {"stopping", "stopped"}


@dataclass(frozen=True)
class InstanceState:
    """stop / terminate an EC2 instance: one call, done once the instance left ``running``."""

    action: str  # "stop" or "terminate"
    service: str = "ec2"

    def inspect(self, resource: Resource, request: ActionRequest) -> Inspection:
        state = resource.attributes.get("state") or ""
        if state == "shutting-down":  # a terminated instance is no resource at all (absent_when)
            return Inspection(exists=self.action == "terminate", done=self.action == "terminate",
                              detail=f"state {state}")
        return Inspection(exists=True, done=self.action == "stop" and state in _STOPPED, detail=f"state {state}")

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        if self.action == "terminate":
            await client.terminate_instances(InstanceIds=[rid])
            return f"terminated instance {rid}"
        await client.stop_instances(InstanceIds=[rid])
        return f"stopped instance {rid}"


@dataclass(frozen=True)
class DeleteVolume:
    """delete an EBS volume, only while it is attached to nothing."""

    service: str = "ec2"

    def inspect(self, resource: Resource, request: ActionRequest) -> Inspection:
        attached = [a.get("instance_id") for a in resource.attributes.get("attachments") or []]
        state = resource.attributes.get("state") or ""
        detail = f"attached to {', '.join(map(str, attached))}" if attached else f"state {state}"
        return Inspection(exists=True, applies=not attached and state == "available", detail=detail)

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        await client.delete_volume(VolumeId=rid)
        return f"deleted volume {rid}"


# Gone is done for these: a terminated instance or a deleted volume is what was asked.
GONE_IS_DONE = {"terminate", "delete"}
EC2_TAGGED = ("ec2.instance", "ec2.volume", "ec2.snapshot", "ec2.image", "ec2.security-group", "ec2.vpc",
              "ec2.subnet")


def _catalogue() -> dict[tuple[str, str], Effector]:
    entries: dict[tuple[str, str], Effector] = {}
    for type_name in EC2_TAGGED:
        entries["tag", type_name] = Ec2Tags()
        entries["untag", type_name] = Ec2Tags(remove=True)
    entries["tag", "s3.bucket"] = BucketTags()
    entries["untag", "s3.bucket"] = BucketTags(remove=True)
    entries["stop", "ec2.instance"] = InstanceState("stop")
    entries["terminate", "ec2.instance"] = InstanceState("terminate")
    entries["delete", "ec2.volume"] = DeleteVolume()
    return entries


CATALOGUE: dict[tuple[str, str], Effector] = _catalogue()


def inspect(request: ActionRequest, resource: Resource | None) -> Inspection:
    """What the effector of ``request`` sees in the resource as AWS shows it now (None: gone)."""
    if resource is None:
        return Inspection(exists=False, done=request.action in GONE_IS_DONE)
    return CATALOGUE[request.action, request.type].inspect(resource, request)


class CallLog:
    """The AWS requests of one step, with their request ids (failed ones too: AWS logged them)."""

    def __init__(self) -> None:
        self.calls: list[AwsCall] = []

    def note(self, client: Any, operation: str, answer: dict[str, Any]) -> None:
        request_id = (answer.get("ResponseMetadata") or {}).get("RequestId")
        if request_id and all(call.request_id != request_id for call in self.calls):
            service = client.meta.service_model.service_name
            self.calls.append(AwsCall(operation=f"{service}:{operation}", request_id=request_id))


class _RecordingCaller(AwsCaller):
    """The collectors' caller (bounded, retried), noting every answer in a `CallLog`."""

    def __init__(self, log: CallLog) -> None:
        super().__init__(BACKOFF, random.Random())
        self.log = log

    async def call(self, bound: BoundClient, operation: str, params: dict[str, Any]) -> dict:
        with _noting(self.log, bound.client, operation):
            answer = await super().call(bound, operation, params)
        self.log.note(bound.client, operation, answer)
        return answer

    async def pages(self, bound: BoundClient, operation: str, params: dict[str, Any]) -> AsyncIterator[dict]:
        with _noting(self.log, bound.client, operation):
            async for page in super().pages(bound, operation, params):
                self.log.note(bound.client, operation, page)
                yield page


class _RecordingClient:
    """A client whose every call is noted: the effectors' mutating calls go through it."""

    def __init__(self, client: Any, log: CallLog) -> None:
        self._client, self._log = client, log

    def __getattr__(self, operation: str) -> Any:
        method = getattr(self._client, operation)

        async def call(**params: Any) -> Any:
            with _noting(self._log, self._client, operation):
                answer = await method(**params)
            self._log.note(self._client, operation, answer)
            return answer

        return call


@contextlib.contextmanager
def _noting(log: CallLog, client: Any, operation: str):
    try:
        yield
    except ClientError as exc:
        log.note(client, operation, exc.response)
        raise


@dataclass(frozen=True)
class Look:
    """The resource as AWS shows it now (None: gone), and the calls it took."""

    resource: Resource | None
    calls: tuple[AwsCall, ...] = ()


@dataclass(frozen=True)
class Applied:
    detail: str
    calls: tuple[AwsCall, ...] = ()


@dataclass(frozen=True)
class Principal:
    """Who the executor is in one account, as STS says (GetCallerIdentity)."""

    arn: str
    account: str


class AwsEffectors:
    """Look, check and act with one client pool per account, kept open; who it is, per account."""

    def __init__(self, aws: AwsSettings) -> None:
        self._aws = aws
        self._pools: dict[str, ClientPool] = {}
        self._principals: dict[str, Principal] = {}
        self._stack = contextlib.AsyncExitStack()

    async def close(self) -> None:
        await self._stack.aclose()
        self._pools.clear()

    def supports(self, request: ActionRequest) -> bool:
        return (request.action, request.type) in CATALOGUE

    def inspect(self, request: ActionRequest, resource: Resource | None) -> Inspection:
        return inspect(request, resource)

    async def identity(self, account: str | None = None) -> Principal:
        """The principal acting in ``account`` (the executor's own credentials without one)."""
        key = account or ""
        if key not in self._principals:
            pool = await self._pool(account)
            log = CallLog()
            answer = await _guarded(_RecordingCaller(log).call(await pool.get("sts", self._aws.regions[0]),
                                                               "get_caller_identity", {}), log)
            self._principals[key] = Principal(arn=answer["Arn"], account=answer["Account"])
        return self._principals[key]

    async def look(self, request: ActionRequest) -> Look:
        """The resource built as a scan builds it, in the account the executor's credentials are in."""
        principal = await self.identity(request.account)
        log = CallLog()
        caller = _RecordingCaller(log)
        pool = await self._pool(request.account)
        resource = await _guarded(describe_resource(
            pool, caller, registry.get(request.type), account=principal.account, region=request.region,
            rid=resource_id(request.uid), redactor=REDACTOR), log)
        return Look(resource, tuple(log.calls))

    async def apply(self, request: ActionRequest) -> Applied:
        effector = CATALOGUE[request.action, request.type]
        pool = await self._pool(request.account)
        log = CallLog()
        client = _RecordingClient((await pool.get(effector.service, request.region)).client, log)
        detail = await _guarded(effector.apply(client, resource_id(request.uid), request), log)
        return Applied(detail, tuple(log.calls))

    async def _pool(self, account: str | None) -> ClientPool:
        key = account or ""
        if key not in self._pools:
            session = (plain_session(region=self._aws.regions[0]) if account is None
                       else await session_for_account(self._aws, account, session_name=SESSION_NAME))
            self._pools[key] = ClientPool(session, self._stack, max_concurrency=self._aws.max_concurrency,
                                          endpoint_url=self._aws.endpoint_url)
        return self._pools[key]


async def _guarded(call: Any, log: CallLog) -> Any:
    try:
        return await call
    except ClientError as exc:
        message = f"{_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}"
        raise EffectorError(message, _code(exc), tuple(log.calls)) from exc
    except BotoCoreError as exc:
        raise EffectorError(f"{type(exc).__name__}: {exc}", calls=tuple(log.calls)) from exc
