"""Effectors: how each (action, resource type) is checked and carried out in AWS.

A small catalogue on purpose: every entry has a check of the current state
(``inspect``: does the resource exist, is it protected, is the action already done,
does it still apply?) used before acting and to reconcile after a crash, and an
``apply`` that makes exactly one mutating call. What is not in the catalogue fails
clearly ("no effector"), it is never guessed.

Sessions come from the collectors' session code (the same credentials, assumed role
and ``providers.aws.endpoint_url``), under their own session name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from collectors.aws.session import session_for_account
from elava.events import ActionRequest
from elava.settings import AwsSettings
from streams.executor.exceptions import EffectorError
from streams.executor.plan import Inspection, resource_id

SESSION_NAME = "elava-executor"
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


class Effector(Protocol):
    service: str

    async def inspect(self, client: Any, rid: str, request: ActionRequest, protect_tag: str) -> Inspection: ...

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str: ...


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or []}


# EC2 resources by type: the describe call, its id parameter and its result list.
EC2_DESCRIBE: dict[str, tuple[str, str, str]] = {
    "ec2.instance": ("describe_instances", "InstanceIds", "Reservations"),
    "ec2.volume": ("describe_volumes", "VolumeIds", "Volumes"),
    "ec2.snapshot": ("describe_snapshots", "SnapshotIds", "Snapshots"),
    "ec2.image": ("describe_images", "ImageIds", "Images"),
    "ec2.security-group": ("describe_security_groups", "GroupIds", "SecurityGroups"),
    "ec2.vpc": ("describe_vpcs", "VpcIds", "Vpcs"),
    "ec2.subnet": ("describe_subnets", "SubnetIds", "Subnets"),
}


async def describe_ec2(client: Any, type_name: str, rid: str) -> dict[str, Any] | None:
    """The resource as EC2 describes it now, or None if it is gone (terminated instances too)."""
    operation, id_param, list_key = EC2_DESCRIBE[type_name]
    try:
        answer = await getattr(client, operation)(**{id_param: [rid]})
    except ClientError as exc:
        if "NotFound" in _code(exc) or "Malformed" in _code(exc):
            return None
        raise
    items = answer.get(list_key) or []
    if list_key == "Reservations":
        items = [i for r in items for i in r.get("Instances", [])]
        items = [i for i in items if i.get("State", {}).get("Name") != "terminated"]
    return items[0] if items else None


@dataclass(frozen=True)
class Ec2Tags:
    """tag / untag any EC2 resource of ``EC2_DESCRIBE``: create_tags / delete_tags."""

    type_name: str
    remove: bool = False
    service: str = "ec2"

    async def inspect(self, client: Any, rid: str, request: ActionRequest, protect_tag: str) -> Inspection:
        item = await describe_ec2(client, self.type_name, rid)
        if item is None:
            return Inspection(exists=False)
        tags = _tags(item.get("Tags"))
        return Inspection(exists=True, protected=protect_tag in tags, done=_tags_done(tags, request, self.remove))

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        wanted = request.params["tags"]
        if self.remove:
            await client.delete_tags(Resources=[rid], Tags=[{"Key": k} for k in wanted])
            return f"removed tags {', '.join(wanted)} from {rid}"
        await client.create_tags(Resources=[rid], Tags=[{"Key": k, "Value": v} for k, v in wanted.items()])
        return f"tagged {rid}"


def _tags_done(tags: dict[str, str], request: ActionRequest, remove: bool) -> bool:
    wanted = request.params.get("tags") or {}
    if remove:
        return not any(k in tags for k in wanted)
    return all(tags.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class BucketTags:
    """tag / untag an S3 bucket: its tag set is replaced as a whole, so merge first."""

    remove: bool = False
    service: str = "s3"

    async def inspect(self, client: Any, rid: str, request: ActionRequest, protect_tag: str) -> Inspection:
        tags = await self._current(client, rid)
        if tags is None:
            return Inspection(exists=False)
        return Inspection(exists=True, protected=protect_tag in tags, done=_tags_done(tags, request, self.remove))

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        tags = await self._current(client, rid) or {}
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
    async def _current(client: Any, bucket: str) -> dict[str, str] | None:
        try:
            return _tags((await client.get_bucket_tagging(Bucket=bucket)).get("TagSet"))
        except ClientError as exc:
            if _code(exc) == "NoSuchTagSet":
                return {}
            if _code(exc) in ("NoSuchBucket", "404"):
                return None
            raise


_STOPPED = {"stopping", "stopped"}
_GONE = {"shutting-down", "terminated"}


@dataclass(frozen=True)
class InstanceState:
    """stop / terminate an EC2 instance: one call, done once the instance left ``running``."""

    action: str  # "stop" or "terminate"
    service: str = "ec2"

    async def inspect(self, client: Any, rid: str, request: ActionRequest, protect_tag: str) -> Inspection:
        item = await describe_ec2(client, "ec2.instance", rid)
        if item is None:
            return Inspection(exists=False, done=self.action == "terminate")  # terminated: gone, which is done
        state = item.get("State", {}).get("Name", "")
        protected = protect_tag in _tags(item.get("Tags"))
        done_states = _GONE if self.action == "terminate" else _STOPPED
        if self.action == "stop" and state in _GONE:
            return Inspection(exists=False, detail=f"state {state}")
        return Inspection(exists=True, protected=protected, done=state in done_states, detail=f"state {state}")

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

    async def inspect(self, client: Any, rid: str, request: ActionRequest, protect_tag: str) -> Inspection:
        item = await describe_ec2(client, "ec2.volume", rid)
        if item is None:
            return Inspection(exists=False, done=True)  # a deleted volume is gone: done
        attached = [a.get("InstanceId") for a in item.get("Attachments") or []]
        state = item.get("State", "")
        detail = f"attached to {', '.join(attached)}" if attached else f"state {state}"
        return Inspection(exists=True, protected=protect_tag in _tags(item.get("Tags")),
                          applies=not attached and state == "available", detail=detail)

    async def apply(self, client: Any, rid: str, request: ActionRequest) -> str:
        await client.delete_volume(VolumeId=rid)
        return f"deleted volume {rid}"


def _catalogue() -> dict[tuple[str, str], Effector]:
    entries: dict[tuple[str, str], Effector] = {}
    for type_name in EC2_DESCRIBE:
        entries["tag", type_name] = Ec2Tags(type_name)
        entries["untag", type_name] = Ec2Tags(type_name, remove=True)
    entries["tag", "s3.bucket"] = BucketTags()
    entries["untag", "s3.bucket"] = BucketTags(remove=True)
    entries["stop", "ec2.instance"] = InstanceState("stop")
    entries["terminate", "ec2.instance"] = InstanceState("terminate")
    entries["delete", "ec2.volume"] = DeleteVolume()
    return entries


CATALOGUE: dict[tuple[str, str], Effector] = _catalogue()


class AwsEffectors:
    """Inspect and apply actions with one client per account/region/service, kept open."""

    def __init__(self, aws: AwsSettings) -> None:
        self._aws = aws
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._stack = contextlib.AsyncExitStack()

    async def close(self) -> None:
        await self._stack.aclose()
        self._clients.clear()

    def supports(self, request: ActionRequest) -> bool:
        return (request.action, request.type) in CATALOGUE

    async def inspect(self, request: ActionRequest, protect_tag: str) -> Inspection:
        effector = CATALOGUE[request.action, request.type]
        client = await self._client(request, effector.service)
        return await _guarded(effector.inspect(client, resource_id(request.uid), request, protect_tag))

    async def apply(self, request: ActionRequest) -> str:
        effector = CATALOGUE[request.action, request.type]
        client = await self._client(request, effector.service)
        return await _guarded(effector.apply(client, resource_id(request.uid), request))

    async def _client(self, request: ActionRequest, service: str) -> Any:
        key = (request.account, request.region, service)
        if key not in self._clients:
            session = self._sessions.get(request.account)
            if session is None:
                session = await session_for_account(self._aws, request.account, session_name=SESSION_NAME)
                self._sessions[request.account] = session
            client = session.client(service, region_name=request.region, endpoint_url=self._aws.endpoint_url,
                                    config=_RETRIES)
            self._clients[key] = await self._stack.enter_async_context(client)
        return self._clients[key]


async def _guarded(call: Any) -> Any:
    try:
        return await call
    except ClientError as exc:
        raise EffectorError(f"{_code(exc)}: {exc.response.get('Error', {}).get('Message', '')}", _code(exc)) from exc
    except BotoCoreError as exc:
        raise EffectorError(f"{type(exc).__name__}: {exc}") from exc
