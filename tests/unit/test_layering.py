"""The core imports neither Faust, aiokafka nor boto (DESIGN: core never imports connectors)."""

import subprocess
import sys

import pytest

CORE = ["elava.events", "elava.redaction", "elava.settings", "elava.topics", "elava.sharding", "streams.diff", "streams.observe",
        "streams.inputs", "streams.chunks", "elava.parts", "streams.store.versioned", "streams.store.kv", "streams.analyzers.drift",
        "streams.analyzers.patterns", "streams.analyzers.fleet", "streams.analyzers.fleet_window", "streams.analyzers.runner", "streams.analyzers.reports",
        "streams.store.findings", "elava.analyzer_events",
        "streams.embedded", "streams.store.queries", "streams.store.net", "streams.store.api", "streams.store.merge", "streams.store.retention", "elava.timeparse",
        "streams.policy", "streams.policy.engine", "streams.policy.bundle", "streams.policy.cases",
        "streams.executor.plan", "streams.executor.ledger", "streams.layout", "streams.dlq", "streams.dlq.letters",
        "streams.executor.vetting", "elava.signing",
        "streams.policy.syntax", "streams.policy.outcomes", "streams.policy.isolated",
        "streams.siem.ocsf", "streams.siem.validate", "streams.siem.sink", "elava.examples",
        # the type catalogue (every family module: resources.FAMILIES loads them) and attribution's reading of it
        "elava.catalogue.constants", "streams.attribution.resources", "streams.attribution.records",
        "streams.analyzers.waste.analyzer", "streams.analyzers.waste.rules", "streams.store.waste", "streams.waste_stage"]
CONNECTORS = ["faust", "aiokafka", "boto3", "botocore", "aioboto3", "aiobotocore"]


@pytest.mark.parametrize("module", CORE)
def test_core_module_loads_no_connector(module):
    code = f"import sys, {module}; print(','.join(m for m in {CONNECTORS!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
