"""Elava events as OCSF 1.8.0 events, for SIEM pipelines (the classes and why: docs/siem.md).

Plain Python over the typed events of ``elava.events``: no Faust, Kafka or boto. Each
Elava event gives at most one OCSF event, whose ``metadata.uid`` is the Elava
``event_id`` (a replay gives the same OCSF event). A value the mapping does not know
yet (a new decision, status or severity) becomes OCSF's ``Other`` (99) with the
Elava word in the sibling attribute, never an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from elava.analyzer_events import DriftEvent, PatternEvent, WasteFinding
from elava.events import ActionResult, AttributedChange, Event, PolicyDecision, TrailEvent
from elava.user_agents import IAC_TOOLS
from streams.siem import objects as o
from streams.siem.classes import API_ACTIVITY, COMPLIANCE_FINDING, DETECTION_FINDING

# finding_info.types, the finding kinds a SIEM rule can select on.
DRIFT, OUT_OF_BAND, POLICY, WASTE = "Configuration Drift", "Out-of-band Change", "Policy Violation", "Waste"
PATTERN = "Lifecycle Pattern"
NEW = {"status_id": 1, "status": "New"}  # a finding's workflow status when Elava reports it
# PolicyDecision.decision -> compliance.status_id (1 Pass, 3 Fail; 99 Other keeps the word).
COMPLIANCE_STATUS = {"allow": (1, "Pass"), "deny": (3, "Fail"), "action": (3, "Fail")}
# API activity_id by the verb an API operation starts with (1 Create, 2 Read, 4 Delete; else 3 Update).
_VERB_ACTIVITY = (
    (("Create", "Run", "Allocate", "Register", "Import", "Launch", "Copy", "Restore"), 1),
    (("Describe", "List", "Get", "Lookup", "Head", "Search"), 2),
    (("Delete", "Terminate", "Release", "Deregister"), 4),
)
EXECUTOR = "elava-executor"
NO_SEVERITIES: Mapping[str, str] = MappingProxyType({})


def ocsf_events_for(event: Event, policy_severity: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The OCSF events one Elava event stands for (none for events a SIEM does not need).

    ``policy_severity`` (policy name -> info|low|medium|high|critical) gives a policy
    decision its severity; the policy stage knows it from the policy definitions.
    """
    mapper = _MAPPERS.get(type(event))
    if mapper is None:
        return []
    return mapper(event, policy_severity or NO_SEVERITIES)


def is_out_of_band(attributed: AttributedChange) -> bool:
    """CloudTrail names who made the change, and it was neither an IaC tool nor AWS itself."""
    actor = attributed.actor
    return (not attributed.provisional and attributed.confidence > 0 and actor.kind != "service"
            and actor.via not in IAC_TOOLS)


def drift_finding(drift: DriftEvent, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    evidence = {"data": {"diff": [c.model_dump(mode="json") for c in drift.diff]}}
    if drift.actor is not None:
        evidence = o.evidence_of(drift.actor, data=evidence["data"])
    info = _finding_info(drift.change_id, f"Configuration drift of {drift.type} {_short(drift.uid)}",
                         DRIFT, drift.summary, drift.detected_at, "drift")
    if drift.out_of_band:  # an IaC-owned resource changed outside its IaC: both kinds, one finding
        info.update(types=[DRIFT, OUT_OF_BAND], title=f"Out-of-band drift of {drift.type} {_short(drift.uid)}"
                    f" (owned by {drift.owner})", analytic=_analytic("out-of-band-drift"))
    event = {
        **o.classification(DETECTION_FINDING, 1), **o.severity(drift.severity), **NEW,
        "time": o.epoch_ms(drift.detected_at), "message": drift.summary, "finding_info": info,
        "resources": [o.resource(drift.uid, drift.type, drift.region)],
        "cloud": o.cloud(drift.account, drift.region), "evidences": [evidence],
        "metadata": o.metadata(drift, "drift", correlation_uid=drift.change_id),
    }
    if drift.confidence is not None:
        event["confidence_score"] = round(drift.confidence * 100)
    return [event]


def out_of_band_finding(attributed: AttributedChange, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    if not is_out_of_band(attributed):
        return []
    change, who = attributed.change, attributed.actor
    how = f" via {who.via}" if who.via else ""
    title = f"{change.type} {_short(change.uid)} {change.kind} outside infrastructure as code by {who.name or who.arn}{how}"
    resource = change.resource
    return [{
        **o.classification(DETECTION_FINDING, 1), **o.severity("low"), **NEW,
        "time": o.epoch_ms(change.observed_at), "message": title,
        "finding_info": _finding_info(change.event_id, title, OUT_OF_BAND, None, change.observed_at,
                                      "out-of-band"),
        "resources": [o.resource(change.uid, change.type, change.region, resource.name if resource else None,
                                 resource.id if resource else None)],
        "cloud": o.cloud(change.account, change.region),
        # One evidence per CloudTrail event that explains the change: its eventID is the
        # api.request.uid of the API Activity Elava published for it.
        "evidences": [o.evidence_of(who, uid=trail_id) for trail_id in attributed.evidence],
        "confidence_score": round(attributed.confidence * 100),
        "metadata": o.metadata(attributed, "attributed-changes", correlation_uid=change.event_id),
    }]


def pattern_finding(pattern: PatternEvent, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    """A lifecycle pattern is a detection about a resource's history: informational, with its versions."""
    title = f"{pattern.pattern}: {pattern.type} {_short(pattern.uid)}"
    proof = [{"data": item.model_dump(mode="json")} for item in pattern.evidence]
    return [{
        **o.classification(DETECTION_FINDING, 1), **o.severity("info"), **NEW,
        "time": o.epoch_ms(pattern.detected_at), "message": pattern.summary,
        "finding_info": _finding_info(pattern.event_id, title, PATTERN, pattern.summary, pattern.detected_at,
                                      pattern.pattern),
        "resources": [o.resource(pattern.uid, pattern.type, pattern.region, pattern.name)],
        "cloud": o.cloud(pattern.account, pattern.region), "evidences": proof,
        "metadata": o.metadata(pattern, "patterns", correlation_uid=pattern.event_id),
    }]


def api_activity(trail: TrailEvent, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    activity = 2 if trail.read_only else _activity_of(trail.event_name)
    status = {"status_id": 2, "status": "Failure", "status_code": trail.error_code} if trail.error_code else \
        {"status_id": 1, "status": "Success"}
    touched = trail.resource
    return [{
        **o.classification(API_ACTIVITY, activity), **o.severity("info"), **status,
        "time": o.epoch_ms(trail.event_time),
        "message": f"{trail.event_name} on {touched.type} {touched.id} by {trail.actor.name or trail.actor.arn}",
        "actor": o.actor(trail.actor),
        "api": {"operation": trail.event_name, "service": {"name": trail.event_source},
                "request": {"uid": trail.trail_event_id}},
        "src_endpoint": o.endpoint(trail.actor.source_ip),
        **({"http_request": {"user_agent": trail.actor.user_agent}} if trail.actor.user_agent else {}),
        "resources": [o.resource(touched.uid, touched.type, trail.region, ident=touched.id)],
        "cloud": o.cloud(trail.account, trail.region),
        "metadata": o.metadata(trail, "cloudtrail", correlation_uid=trail.trail_event_id,
                               original_event_uid=trail.trail_event_id),
    }]


def policy_finding(decision: PolicyDecision, policy_severity: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    status_id, status = COMPLIANCE_STATUS.get(decision.decision, (o.OTHER, decision.decision))
    detail = "; ".join(decision.messages)
    level = "info" if decision.decision == "allow" else policy_severity.get(decision.policy)
    account, region = o.arn_scope(decision.uid)
    title = f"{decision.policy}: {decision.decision} on {_short(decision.uid)}"
    compliance = {"control": decision.policy, "standards": ["Elava policies"], "status_id": status_id,
                  "status": status, **({"status_details": decision.messages} if decision.messages else {})}
    return [{
        **o.classification(COMPLIANCE_FINDING, 1), **o.severity(level), **NEW,
        "time": o.epoch_ms(decision.decided_at), "message": detail or title,
        "finding_info": _finding_info(f"{decision.policy}:{decision.uid}", title, POLICY, detail or None,
                                      decision.decided_at, decision.policy),
        "compliance": compliance, "resources": [o.resource(decision.uid)], "cloud": o.cloud(account, region),
        "metadata": o.metadata(decision, "policy-decisions", correlation_uid=decision.cause_id),
    }]


# WasteFinding.status -> (activity: 1 Create, 2 Update, 3 Close; finding status; control status);
# an unknown status is an update of a finding still open.
WASTE_LIFECYCLE = {
    "open": (1, NEW, (3, "Fail")),
    "updated": (2, NEW, (3, "Fail")),
    "resolved": (3, {"status_id": 4, "status": "Resolved"}, (1, "Pass")),
}


def waste_finding(waste: WasteFinding, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    title = f"Waste: {waste.pattern} {waste.type} {_short(waste.uid)}"
    info = _finding_info(f"waste:{waste.pattern}:{waste.uid}", title, WASTE, waste.reason, waste.detected_at, waste.pattern)
    if waste.since is not None:
        info["first_seen_time"] = o.epoch_ms(waste.since)
    activity, status, (control_id, control) = WASTE_LIFECYCLE.get(waste.status, WASTE_LIFECYCLE["updated"])
    return [{
        **o.classification(COMPLIANCE_FINDING, activity), **o.severity("low"), **status,
        "time": o.epoch_ms(waste.detected_at), "message": waste.reason, "finding_info": info,
        "compliance": {"control": waste.pattern, "standards": ["Elava waste patterns"], "status_id": control_id,
                       "status": control, "status_details": [waste.reason]},
        "resources": [o.resource(waste.uid, waste.type, waste.region)], "cloud": o.cloud(waste.account, waste.region),
        # What a FinOps tool prices it by, and what the rule saw: no OCSF attribute holds them.
        "unmapped": {"elava": {"evidence": waste.evidence, "units": waste.units,
                               **({"lacking": waste.lacking} if waste.lacking else {})}},
        "metadata": o.metadata(waste, "waste"),
    }]


# ActionResult.status -> API status (1 Success: AWS was changed; 2 Failure; 99 Other: nothing was called).
ACTION_STATUS = {"executed": (1, "Success"), "failed": (2, "Failure")}


def action_activity(result: ActionResult, _: Mapping[str, str] = NO_SEVERITIES) -> list[dict[str, Any]]:
    activity, name = _action_activity(result.action)
    status_id, status = ACTION_STATUS.get(result.status, (o.OTHER, result.status))
    account, region = o.arn_scope(result.uid)
    principal = result.principal
    actor = {"app_name": EXECUTOR, **({"user": {"uid": principal, "name": principal.rsplit("/", 1)[-1]}}
                                      if principal else {})}
    return [{
        **o.classification(API_ACTIVITY, activity, name), **o.severity("info"),
        "status_id": status_id, "status": status, **({"status_detail": result.detail} if result.detail else {}),
        "time": o.epoch_ms(result.finished_at),
        "message": f"{result.action} {_short(result.uid)}: {result.status}" + (" (dry run)" if result.dry_run else ""),
        "actor": actor, "src_endpoint": {"name": EXECUTOR},
        "api": {"operation": result.action, "request": {"uid": result.request_id}},
        "resources": [o.resource(result.uid)], "cloud": o.cloud(account, region),
        "unmapped": {"elava": _executor_audit(result)},
        "metadata": o.metadata(result, "action-results", correlation_uid=result.request_id),
    }]


def _executor_audit(result: ActionResult) -> dict[str, Any]:
    """What OCSF has no place for: Elava's status and dry-run flag, the AWS requests made
    (their ids are in CloudTrail), the chain of ids behind the request, the signing key."""
    audit = {"status": result.status, "dry_run": result.dry_run, "policy": result.policy,
             "not_before": result.not_before.isoformat() if result.not_before else None,
             "aws_calls": [call.model_dump(mode="json") for call in result.aws_calls],
             "change_id": result.change_id, "decision_id": result.decision_id, "signed_by": result.signed_by}
    return {key: value for key, value in audit.items() if value not in (None, "", [])}


def _action_activity(action: str) -> tuple[int, str | None]:
    """Executor action names are Elava's (tag, stop, delete, notify): delete is Delete, notify Other."""
    if action == "notify":
        return o.OTHER, "Notify"
    return (4, None) if action.startswith(("delete", "terminate")) else (3, None)


def _activity_of(operation: str) -> int:
    for verbs, activity in _VERB_ACTIVITY:
        if operation.startswith(verbs):
            return activity
    return 3


def _finding_info(uid: str, title: str, kind: str, desc: str | None, created, rule: str) -> dict[str, Any]:
    """``rule``: what found it (a policy, a waste pattern, the drift or out-of-band rule)."""
    info = {"uid": uid, "title": title, "types": [kind], "created_time": o.epoch_ms(created),
            "product": o.product(), "analytic": _analytic(rule)}
    if desc:
        info["desc"] = desc
    return info


def _analytic(rule: str) -> dict[str, Any]:
    return {"name": rule, "uid": rule, "type_id": 1, "type": "Rule"}


def _short(uid: str) -> str:
    """The readable end of a uid: ``sg-0abc`` of ``arn:aws:ec2:…:security-group/sg-0abc``."""
    return uid.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


_MAPPERS: dict[type, Callable[[Any, Mapping[str, str]], list[dict[str, Any]]]] = {
    DriftEvent: drift_finding, AttributedChange: out_of_band_finding, TrailEvent: api_activity,
    PatternEvent: pattern_finding,
    PolicyDecision: policy_finding, WasteFinding: waste_finding, ActionResult: action_activity,
}
