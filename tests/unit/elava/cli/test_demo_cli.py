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
                     "tag owner removed (was 'alice')", "deleted",
                     "out-of-band: owned by terraform", "unknown actor",
                     "pattern short-lived: ec2.instance web-1 lived", "unattached-volume",
                     "5 scans, 12 changes, 3 drift events (1 out-of-band), 2 patterns",
                     "asking for 2 actions, 1 waste finding"):
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
    assert [a["act"] for a in acts] == [1, 2, 3, 4, 5]
    # the instance, and its root volume with it: both lived moments
    assert [(c["kind"], c["type"]) for c in acts[4]["changes"]] == [("deleted", "ec2.instance"), ("deleted", "ec2.volume")]
    assert [(p["pattern"], p["type"]) for p in acts[4]["patterns"]] == [
        ("short-lived", "ec2.instance"), ("short-lived", "ec2.volume")]
    [out_of_band] = acts[3]["drift"]
    assert (out_of_band["out_of_band"], out_of_band["owner"], out_of_band["actor"]) == (True, "terraform", None)
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
    [out_of_band] = [e for e in events if e["finding_info"]["types"] == ["Configuration Drift", "Out-of-band Change"]]
    assert out_of_band["severity"] == "High" and "owned by terraform" in out_of_band["finding_info"]["title"]
    patterns = [e for e in events if e["finding_info"]["types"] == ["Lifecycle Pattern"]]
    assert sorted((e["finding_info"]["analytic"]["name"], e["resources"][0]["type"]) for e in patterns) == [
        ("short-lived", "ec2.instance"), ("short-lived", "ec2.volume")]
    findings = [e for e in events if e["class_uid"] == 2003]
    assert {e["compliance"]["control"] for e in findings} >= {"open_admin_ports", "required_tags"}
    [waste] = [e for e in events if e["finding_info"]["types"] == ["Waste"]]
    assert waste["compliance"]["control"] == "unattached-volume" and waste["resources"][0]["type"] == "ec2.volume"
