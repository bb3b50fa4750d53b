"""Requests, ledger entries and a notification receiver for the executor tests."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from elava.demo.simulated import free_port
from elava.events import ActionRequest, Actor, AttributedChange, ChangeEvent, Resource
from elava.settings import ExecutorSettings
from streams.executor.ledger import LedgerEntry
from streams.policy.definitions import load_policy, policy_files
from streams.policy.engine import PolicyEngine

ACCOUNT = "123456789012"
REGION = "us-east-1"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DRY = ExecutorSettings()
ENFORCING = ExecutorSettings(dry_run=False, grace_period=timedelta(hours=2))

_UIDS = {"ec2.instance": "instance", "ec2.volume": "volume", "s3.bucket": None}


def uid_of(type_name: str, rid: str) -> str:
    if type_name == "s3.bucket":
        return f"arn:aws:s3:::{rid}"
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:{type_name.split('.')[1]}/{rid}"


def request(action: str = "tag", mode: str = "enforce", *, type_name: str = "ec2.instance", rid: str = "i-0abc",
            destructive: bool | None = None, **params: Any) -> ActionRequest:
    if action in ("tag", "untag") and "tags" not in params:
        params["tags"] = {"owner": "alice"}
    return ActionRequest(uid=uid_of(type_name, rid), type=type_name, account=ACCOUNT, region=REGION, action=action,
                         params=params, mode=mode,
                         destructive=action in ("stop", "terminate", "delete") if destructive is None else destructive,
                         policy="test_policy", reason="because a test says so", decision_id="d-1",
                         resource_version=1, requested_at=NOW)


def entry(req: ActionRequest, state: str, *, stage: str | None = None, not_before: datetime | None = None,
          announced_dry_run: bool | None = None) -> LedgerEntry:
    return LedgerEntry(action_id=req.event_id, state=state, stage=stage, request=req, not_before=not_before,
                       announced_dry_run=announced_dry_run, updated_at=NOW)


# --- genuine requests: made by the policy engine, as the policy stage makes them ------------

POLICIES = Path(__file__).parent / "policies"
KEY = "k1", b"0123456789abcdef0123456789abcdef"  # the tests' signing key (id, secret)


def policy_engine(enforcement_mode: str = "enforce") -> PolicyEngine:
    return PolicyEngine([load_policy(path) for path in policy_files(POLICIES)], enforcement_mode)


ENGINE = policy_engine()


def resource(type_name: str, rid: str, tags: dict[str, str] | None = None, **attributes: Any) -> Resource:
    """What a collector would have published of a resource (only what the test policies read)."""
    return Resource(uid=uid_of(type_name, rid), type=type_name, id=rid, account=ACCOUNT, region=REGION,
                    tags=tags or {}, attributes=attributes)


def genuine(subject: Resource, *, actor: str = "alice", engine: PolicyEngine = ENGINE) -> ActionRequest:
    """The one action request the test policies make for ``subject`` created by ``actor``."""
    change = ChangeEvent(uid=subject.uid, type=subject.type, account=subject.account, region=subject.region,
                         kind="created", previous_version=None, new_version=1, observed_at=NOW, resource=subject,
                         cause_id="scan-1")
    attributed = AttributedChange(change=change, actor=Actor(name=actor, kind="human"), confidence=1.0)
    requests = [out for out in engine.evaluate(attributed) if isinstance(out, ActionRequest)]
    assert len(requests) == 1, f"the test policies asked for {len(requests)} actions on {subject.uid}"
    return requests[0]


def wanted(want: str, rid: str, **tags: str) -> ActionRequest:
    """The request for an instance tagged ``want=<want>`` (the test policies read that tag)."""
    return genuine(resource("ec2.instance", rid, {"want": want, **tags}, state="running"))


def unattached(rid: str) -> ActionRequest:
    return genuine(resource("ec2.volume", rid, state="available", attached=False, size_gib=8))


class WebhookReceiver:
    """A local HTTP endpoint that keeps every notice it was sent, by idempotency key."""

    def __init__(self, answer_after: float = 0.0) -> None:
        """``answer_after``: seconds between taking a notice and answering (a slow receiver)."""
        self.notices: list[dict] = []
        self.keys: Counter[str] = Counter()
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.notices.append(body)
                received.keys[self.headers["Idempotency-Key"]] += 1
                time.sleep(answer_after)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
