"""The executor: carries out the actions policies ask for, safely and once.

``plan`` and ``ledger`` are the core (no connector imports); ``aws`` holds the
effectors (aioboto3), ``notify`` the webhook, ``service`` the Kafka driver.
"""
