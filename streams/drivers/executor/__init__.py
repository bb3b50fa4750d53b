"""The executor's runtime: the Kafka service, the runner, the AWS effectors, notifications,
the ledger journal and the results reader. Its decisions are in `streams/executor/`.
"""
