"""Errors of the attribution package."""

from elava.exceptions import SchemaError


class UnreadableTrail(SchemaError):
    """A document is neither a CloudTrail record, an EventBridge envelope nor a log file."""
