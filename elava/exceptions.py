"""One root exception for Elava; packages add their own small subclasses."""


class ElavaError(Exception):
    """Root of every error Elava raises on purpose."""


class SettingsError(ElavaError):
    """Settings are invalid; the message names the field."""


class KafkaAccessError(ElavaError):
    """The brokers refused this client or cannot be reached; the message says why and what to check."""


class SchemaError(ElavaError):
    """A message does not match its contract (bad JSON, wrong type, unknown version)."""


class StoreError(ElavaError):
    """The store cannot be opened or read safely."""
