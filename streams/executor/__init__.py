"""The executor's decisions: the plan (`plan.py`), the ledger (`ledger.py`) and the vetting of a
request (`vetting.py`), with no connector imports. Its runtime is `streams/drivers/executor/`.
"""
