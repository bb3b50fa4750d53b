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
                     "tag owner removed (was 'alice')", "deleted", "4 scans, 7 changes, 2 drift events"):
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
    assert [c["kind"] for c in acts[3]["changes"]] == ["deleted"]
