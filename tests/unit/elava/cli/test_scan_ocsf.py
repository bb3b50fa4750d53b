"""`elava scan --output ocsf`: what the scan found, as OCSF JSON lines."""

import json

from elava import examples
from elava.cli.scan import print_ocsf
from elava.settings import Settings
from streams.drivers.embedded.pipeline import Outputs
from streams.siem.validate import validate


def test_scan_prints_drift_out_of_band_changes_and_findings_as_ocsf_lines(capsys):
    outputs = Outputs(changes=[examples.change()], attributed=[examples.attributed_change()],
                      drift=[examples.drift()], decisions=[examples.policy_decision()])

    print_ocsf(Settings(), outputs)

    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(e["finding_info"]["types"][0] for e in events) == [
        "Configuration Drift", "Out-of-band Change", "Policy Violation"]
    assert all(validate(e) == [] for e in events)
    decision = next(e for e in events if e["class_uid"] == 2003)
    assert decision["severity"] == "Critical"  # open_admin_ports is critical in its shipped definition
