"""Errors the collectors raise on purpose (all under elava's one root exception)."""

from __future__ import annotations

from elava.exceptions import ElavaError


class CollectorError(ElavaError):
    """A collector could not do its job."""


class MalformedResponse(CollectorError):
    """AWS answered without a field the resource type relies on (e.g. its id)."""


class SinkError(CollectorError):
    """The sink refused a page or a marker: not an AWS failure, so it ends the scan."""


class DeliveryFailed(CollectorError):
    """A page or marker was not delivered (the broker refused it or never answered).

    Not the end of the scan: the shards it belongs to get failed markers, so nothing
    is inferred from them, and the other shards, types and accounts carry on.
    """
