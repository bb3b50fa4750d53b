"""Kafka plumbing: clients (`clients.py`, the only place they are built), security options,
reading a topic to its end and the shard layout record.
"""
