"""What the waste rules need to know about a resource type, declared with the type.

A `Usage` says which CloudWatch metrics tell whether resources of the type are used
(`Metric`), what a FinOps tool prices them by (``units``), which other resources
they use (``uses``), and when each was created (``created``). The metrics collector
(collectors/metrics) fetches the metrics and counts the uses; the waste rules
(streams/analyzers/waste) read the results. Paths are JMESPath over the resource as
published (``id``, ``tags``, ``attributes.size_gib``). Nothing here imports boto.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from elava.catalogue.exceptions import InvalidResourceType
from elava.catalogue.expressions import compile_check

# "window": one datapoint over the whole window (a total, a maximum); "hourly-p95": the
# 95th percentile of hourly datapoints, computed here (CloudWatch's own pNN statistics are
# not offered by every implementation, and p95 of hourly maxima bounds the true p95 from above).
Summary = Literal["window", "hourly-p95"]
STATISTICS = frozenset({"Sum", "Maximum", "Minimum", "Average", "SampleCount"})


def _check(owner: str, *expressions: str) -> None:
    for expression in expressions:
        try:
            compile_check(expression)
        except ValueError as exc:
            raise InvalidResourceType(f"{owner}: bad expression {expression!r}: {exc}") from None


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric of a resource, as ``name`` (what the rules read).

    ``dimensions`` maps a CloudWatch dimension to a path in the resource. ``when`` limits
    the metric to resources whose paths hold those values (an application load balancer's
    requests, a network one's flows). ``absent_is_zero``: AWS publishes the metric only
    when it is not zero (ELB requests, Lambda invocations), so a complete answer without
    datapoints means zero; for the others it means the metric is missing.
    """

    name: str
    namespace: str
    metric: str
    stat: str
    dimensions: Mapping[str, str]
    unit: str
    summary: Summary = "window"
    absent_is_zero: bool = False
    when: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", MappingProxyType(dict(self.dimensions)))
        object.__setattr__(self, "when", MappingProxyType(dict(self.when)))
        if self.stat not in STATISTICS:
            raise InvalidResourceType(f"metric {self.name}: statistic {self.stat!r} is not one of {sorted(STATISTICS)}")
        _check(f"metric {self.name}", *self.dimensions.values(), *self.when)


@dataclass(frozen=True)
class Usage:
    """``uses``: target type -> path of the id (or list of ids) of resources of that type this
    one uses (an instance its image, an image its snapshots). ``usage_facts``: the metrics
    collector counts, for each resource of this type, who uses it (``used_by.<type>``) and
    whether what it uses is there (``present.<type>``) — the rules of this type need them."""

    metrics: tuple[Metric, ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    uses: Mapping[str, str] = field(default_factory=dict)
    created: str | None = None
    usage_facts: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))
        object.__setattr__(self, "uses", MappingProxyType(dict(self.uses)))
        names = [metric.name for metric in self.metrics]
        if len(names) != len(set(names)):
            raise InvalidResourceType(f"two metrics share a name: {names}")
        _check("usage", *self.units.values(), *self.uses.values(), *([self.created] if self.created else []))
