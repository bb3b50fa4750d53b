"""The dead-letter queue: putting messages aside (``dead_letter``) and replaying them."""

from streams.dlq.letters import DlqEntry, Selection, dead_letter, via_producer, via_topic

__all__ = ["DlqEntry", "Selection", "dead_letter", "via_producer", "via_topic"]
