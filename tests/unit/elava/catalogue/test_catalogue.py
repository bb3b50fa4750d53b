"""Meta-tests over every registered type: each fact of a type is written once, in its
declaration, and every layer reads it from there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from collectors.cloudtrail.normalize.arns import from_arn
from elava.catalogue import registry
from elava.catalogue.arns import Arn
from elava.events import Resource
from elava.sharding import GLOBAL_REGION
from tests.unit.elava.catalogue.round_trip import problems, reads_naming

ROOT = Path(__file__).resolve().parents[4]
TYPES = [rt.name for rt in registry.all_types()]
# Besides its declaration (elava/catalogue/), a type may be named by what acts on it or judges it.
MAY_NAME_TYPES = {
    "streams/drivers/executor/aws.py": "effectors: the actions the executor can carry out, per type",
    "streams/analyzers/risk.py": "analyzer rules",
    "streams/analyzers/drift.py": "analyzer rules",
    "streams/analyzers/waste/rules.py": "analyzer rules (the waste rule of each type)",
    "elava/examples.py": "sample events of the schema documentation",
    "elava/demo/story.py": "the types the demo's story scans",
}


# What `pip install .` and local tools leave in a clone (.gitignore): copies of the sources, not sources.
NOT_SOURCES = {"build", "dist", ".venv", ".git", ".hypothesis", ".pytest_cache", ".ruff_cache"}


def _source_files() -> list[Path]:
    skipped = ("tests/", "elava/catalogue/", "deploy/")
    return [path for path in sorted(ROOT.rglob("*.py"))
            if path.relative_to(ROOT).parts[0] not in NOT_SOURCES
            and not path.relative_to(ROOT).as_posix().startswith(skipped)]


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_no_other_python_code_names_a_type_or_keeps_an_arn_template():
    found = []
    for path in _source_files():
        relative = path.relative_to(ROOT).as_posix()
        for line, text in _strings(path):
            if (text in TYPES and relative not in MAY_NAME_TYPES) or "arn:{partition}" in text:
                found.append(f"{relative}:{line}: {text!r}")
    assert not found, "a type's facts belong in its declaration (elava/catalogue/):\n" + "\n".join(found)


@pytest.mark.parametrize("type_name", TYPES)
def test_every_type_is_read_from_some_trail_family_or_says_why_not(type_name):
    rt = registry.get(type_name)
    assert bool(reads_naming(type_name)) != bool(rt.no_trail), (
        f"{type_name}: declare its CloudTrail family (trail=...) or why it has none (no_trail=...)")


def test_trail_families_name_only_registered_types_and_event_names_once():
    seen: dict[tuple[str, str], str] = {}
    for family, owner in registry.trail_families():
        assert set(registry.family_types(family, owner)) <= set(TYPES), family.title
        for name in family.events:
            assert seen.setdefault((family.source, name), family.title) == family.title, (name, family.title)


SAMPLE_IDS = {"elbv2.load-balancer": "app/web-alb/50dc6c495c0c9188"}  # ids of a shape of their own


@pytest.mark.parametrize("type_name", [rt.name for rt in registry.all_types() if rt.arn_template])
def test_a_template_uid_is_read_back_as_its_own_type_only(type_name):
    rt = registry.get(type_name)
    uid = rt.uid_for(SAMPLE_IDS.get(type_name, "sample-1"), account="123456789012", region="eu-west-1", partition="aws")
    touched = from_arn(uid)
    assert touched is not None and (touched.type, touched.uid) == (type_name, uid)
    matching = [other.name for other in registry.all_types()
                if other.arn_match and other.arn_match.match(Arn.parse(uid))]
    assert matching == [type_name]


def _resource(type_name: str, uid: str, rid: str, region: str = "eu-west-1") -> Resource:
    return Resource(uid=uid, type=type_name, id=rid, account="123456789012", region=region)


def test_the_round_trip_agrees_with_the_collector_and_names_what_differs():
    volume = "arn:aws:ec2:eu-west-1:123456789012:volume/vol-0abc"
    assert problems(_resource("ec2.volume", volume, "vol-0abc"), "eu-west-1") == []
    wrong = problems(_resource("ec2.volume", volume.replace(":volume/", ":vol/"), "vol-0abc"), "eu-west-1")
    assert wrong and all("EBS volumes" in p or "EC2 tags" in p for p in wrong)
    assert problems(_resource("ec2.volume", volume, "vol-0abc"), GLOBAL_REGION)  # another shard


def test_a_global_type_is_read_back_in_the_global_scope():
    bucket = _resource("s3.bucket", "arn:aws:s3:::acme-logs", "acme-logs", region="us-west-2")
    assert problems(bucket, GLOBAL_REGION) == []
    assert problems(bucket, "us-west-2")
