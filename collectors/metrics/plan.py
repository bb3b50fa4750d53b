"""What to ask CloudWatch, in how few calls, and what the answers mean. No AWS calls here.

Queries come from the types' declarations (`elava.catalogue.usage.Metric`), one per
resource and metric. GetMetricData takes up to 500 queries and returns up to 100,800
datapoints a call: a query over the whole window (one datapoint) packs 500 to a call;
an hourly one over 14 days (336 datapoints) packs 300. An answer is trusted only when
CloudWatch says it is ``Complete``; a metric AWS publishes only when it is not zero
reads as zero without datapoints; any other gap is reported missing, with why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elava.catalogue import registry
from elava.catalogue.expressions import extract
from elava.catalogue.usage import Metric
from elava.events import Resource

MAX_QUERIES = 500
MAX_DATAPOINTS = 100_800
HOUR = 3600
# An hourly p95 needs datapoints for most of the window (an instance stopped for days has fewer).
MIN_HOURLY_COVERAGE = 0.8


@dataclass(frozen=True)
class Query:
    id: str
    uid: str
    metric: Metric
    dimensions: tuple[tuple[str, str], ...]

    def points(self, window: timedelta) -> int:
        return 1 if self.metric.summary == "window" else math.ceil(window.total_seconds() / HOUR)

    def request(self, window: timedelta) -> dict[str, Any]:
        period = int(window.total_seconds()) if self.metric.summary == "window" else HOUR
        return {"Id": self.id, "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": self.metric.namespace, "MetricName": self.metric.metric,
                       "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions]},
            "Period": period, "Stat": self.metric.stat}}


def _applies(metric: Metric, document: dict[str, Any]) -> bool:
    return all(extract(document, path) == value for path, value in metric.when.items())


def queries_for(resources: Iterable[Resource]) -> list[Query]:
    """One query per resource and declared metric that applies to it (``when``) and whose
    dimensions it has."""
    found: list[Query] = []
    for resource in resources:
        usage = registry.get(resource.type).usage
        if usage is None or not usage.metrics:
            continue
        document = resource.model_dump(mode="json")
        for metric in usage.metrics:
            values = {name: extract(document, path) for name, path in metric.dimensions.items()}
            if _applies(metric, document) and all(isinstance(v, str) and v for v in values.values()):
                found.append(Query(f"q{len(found)}", resource.uid, metric, tuple(sorted(values.items()))))
    return found


def batches(queries: list[Query], window: timedelta, *, max_queries: int = MAX_QUERIES,
            max_points: int = MAX_DATAPOINTS) -> list[list[Query]]:
    """Queries packed into as few GetMetricData calls as their limits allow (in order)."""
    packed: list[list[Query]] = []
    current: list[Query] = []
    points = 0
    for query in queries:
        need = query.points(window)
        if current and (len(current) >= max_queries or points + need > max_points):
            packed.append(current)
            current, points = [], 0
        current.append(query)
        points += need
    return packed + ([current] if current else [])


def window_bounds(now: datetime, window: timedelta) -> tuple[datetime, datetime]:
    """[start, end) on whole hours, so that hourly datapoints line up and replays agree."""
    end = now.replace(minute=0, second=0, microsecond=0)
    return end - window, end


@dataclass
class Learnt:
    """What was learnt of each resource: values by name, and what is missing, with why."""

    values: dict[str, dict[str, float]] = field(default_factory=dict)
    missing: dict[str, dict[str, str]] = field(default_factory=dict)

    def value(self, uid: str, name: str, value: float) -> None:
        self.values.setdefault(uid, {})[name] = value

    def lack(self, uid: str, name: str, why: str) -> None:
        self.missing.setdefault(uid, {})[name] = why

    def uids(self) -> list[str]:
        return list(dict.fromkeys([*self.values, *self.missing]))


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


_COMBINE = {"Sum": sum, "Maximum": max, "Minimum": min, "SampleCount": sum,
            "Average": lambda values: sum(values) / len(values)}


def summarise(query: Query, answer: dict[str, Any] | None, window: timedelta, learnt: Learnt) -> None:
    """One query's answer (``{"StatusCode", "Values"}``, or None: not answered) into ``learnt``."""
    name, metric = query.metric.name, query.metric
    if answer is None:
        return learnt.lack(query.uid, name, "not answered")
    status, values = answer.get("StatusCode"), [float(v) for v in answer.get("Values") or [] if v is not None]
    if status != "Complete":
        return learnt.lack(query.uid, name, f"CloudWatch answered {status}")
    if not values:
        if metric.absent_is_zero:
            return learnt.value(query.uid, name, 0.0)
        return learnt.lack(query.uid, name, "no datapoints")
    if metric.summary == "hourly-p95":
        expected = query.points(window)
        if len(values) < MIN_HOURLY_COVERAGE * expected:
            return learnt.lack(query.uid, name, f"datapoints for {len(values)} of {expected} hours")
        return learnt.value(query.uid, name, p95(values))
    return learnt.value(query.uid, name, _COMBINE[metric.stat](values))
