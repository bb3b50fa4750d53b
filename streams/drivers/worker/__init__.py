"""The Faust worker (`app.py`) with its Kafka edges, and the policy stage it supervises.
"""
