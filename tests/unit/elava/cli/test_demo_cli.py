"""`elava demo` as a newcomer runs it: one process, no broker, exit 0."""

import subprocess
import sys


def test_embedded_demo_tells_the_story_and_exits_zero():
    done = subprocess.run([sys.executable, "-m", "elava", "demo"], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for expected in ("Resources appear", "opens SSH", "removes the owner tag", "terminated",
                     "ingress rule added: tcp port 22 from 0.0.0.0/0", "critical",
                     "tag owner removed (was 'alice')", "deleted", "4 scans, 10 changes, 2 drift events"):
        assert expected in out, expected


def test_demo_json_output_is_parseable():
    import json

    done = subprocess.run([sys.executable, "-m", "elava", "demo", "--output", "json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    decoder, text, acts = json.JSONDecoder(), done.stdout.strip(), []
    while text:
        act, end = decoder.raw_decode(text)
        acts.append(act)
        text = text[end:].strip()
    assert [a["act"] for a in acts] == [1, 2, 3, 4]
    # the instance, and its root volume with it
    assert [(c["kind"], c["type"]) for c in acts[3]["changes"]] == [("deleted", "ec2.instance"), ("deleted", "ec2.volume")]
    # the volume nobody attached is waste, once
    assert [(w["pattern"], w["status"]) for a in acts for w in a["waste"]] == [("unattached-volume", "open")]


def test_demo_ocsf_output_is_json_lines_of_valid_ocsf_events():
    import json

    from streams.siem.validate import validate

    done = subprocess.run([sys.executable, "-m", "elava", "demo", "--output", "ocsf"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]  # every line is one JSON object
    assert events and {event["metadata"]["uid"]: validate(event) for event in events} == {
        event["metadata"]["uid"]: [] for event in events}
    drift = [e for e in events if e["finding_info"]["types"] == ["Configuration Drift"]]
    assert sorted(e["severity"] for e in drift) == ["Critical", "Medium"]  # SSH to the world; owner tag removed
    ssh = next(e for e in drift if e["severity"] == "Critical")
    assert "tcp port 22 from 0.0.0.0/0" in ssh["message"] and ssh["cloud"]["account"]["uid"] == "123456789012"
    findings = [e for e in events if e["class_uid"] == 2003]
    assert {e["compliance"]["control"] for e in findings} >= {"open_admin_ports", "required_tags"}
