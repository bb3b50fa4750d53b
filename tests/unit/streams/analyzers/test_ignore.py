"""Drift leaves out AWS-managed churn by default, and what the user's ignore rules say; nothing else."""

import pytest

from elava.settings import DriftIgnoreRule, DriftSettings, Settings
from streams.analyzers.drift import DriftAnalyzer
from tests.unit.streams.analyzers.drift_cases import SSH_WORLD, fc, modified

DEFAULTS = DriftAnalyzer()


def drift(change, settings=None):
    return (DriftAnalyzer(settings) if settings else DEFAULTS).drift_for(change)


@pytest.mark.parametrize(("type_name", "change", "rule"), [
    # tags AWS services write (a stack, an Auto Scaling group): nobody can set them by hand
    ("ec2.instance", fc("tags.aws:cloudformation:logical-id", "add", new="Web"), "aws-tag"),
    ("ec2.instance", fc("tags.aws:autoscaling:groupName", "remove", old="web-asg"), "aws-tag"),
    # "" vs missing vs null vs [] vs {}: nothing became nothing
    ("ec2.instance", fc("attributes.key_name", old="", new=None), "empty-value"),
    ("ec2.instance", fc("attributes.security_groups", "add", new=[]), "empty-value"),
    ("lambda.function", fc("attributes.layers", "remove", old=[]), "empty-value"),
    ("ec2.security-group", fc("attributes.description", "add", new=""), "empty-value"),
    ("eks.cluster", fc("attributes.logging", old={}, new=None), "empty-value"),
    # state transitions the user did not cause: AWS finishing a start, a stop, a termination
    ("ec2.instance", fc("attributes.state", old="pending", new="running"), "settling-state"),
    ("ec2.instance", fc("attributes.state", old="stopping", new="stopped"), "settling-state"),
    ("ec2.volume", fc("attributes.state", old="creating", new="available"), "settling-state"),
    ("rds.instance", fc("attributes.status", old="modifying", new="available"), "settling-state"),
    # states AWS enters on its own
    ("rds.instance", fc("attributes.status", old="available", new="backing-up"), "aws-initiated-state"),
    ("rds.cluster", fc("attributes.status", old="maintenance", new="available"), "aws-initiated-state"),
    # capacity moved by autoscaling, read-only times AWS stamps
    ("autoscaling.group", fc("attributes.desired_capacity", old=2, new=5), "churn"),
    ("ecs.service", fc("attributes.desired_count", old=2, new=4), "churn"),
    ("dynamodb.table", fc("attributes.read_capacity", old=5, new=50), "churn"),
    ("ec2.instance", fc("attributes.launch_time", old="2026-11-27T08:00:00Z", new="2026-11-28T08:00:00Z"), "churn"),
    ("ec2.instance", fc("attributes.public_ip", old="203.0.113.7", new="203.0.113.9"), "churn"),
    ("lambda.function", fc("attributes.last_modified", old="2026-11-27", new="2026-11-28"), "churn"),
    # emptiness (read by the waste rules) moves with the data plane, not the configuration
    ("s3.bucket", fc("attributes.empty", old=True, new=False), "churn"),
    ("ecr.repository", fc("attributes.empty", old=False, new=True), "churn"),
])
def test_aws_managed_churn_is_not_drift_and_says_which_default_left_it_out(type_name, change, rule):
    assert drift(modified(type_name, change)) is None
    report = drift(modified(type_name, change, fc("attributes.monitoring", old="disabled", new="enabled")))
    assert [c.path for c in report.diff] == ["attributes.monitoring"]
    assert [(i.path, i.rule) for i in report.ignored] == [(change.path, rule)]


@pytest.mark.parametrize(("type_name", "change"), [
    ("ec2.instance", fc("attributes.state", old="running", new="stopped")),  # someone stopped it
    ("ec2.instance", fc("attributes.state", old="stopped", new="pending")),  # someone started it
    ("rds.instance", fc("attributes.status", old="available", new="stopped")),
    ("autoscaling.group", fc("attributes.max_size", old=4, new=40)),  # the bounds are the user's
    ("ec2.instance", fc("tags.awsome", "add", new="yes")),  # not an aws: tag
    ("ec2.instance", fc("attributes.ebs_optimized", old=False, new=None)),  # False is a value, not nothing
    ("ec2.instance", fc("attributes.key_name", old="", new="admin")),
])
def test_what_only_looks_like_churn_is_still_drift(type_name, change):
    report = drift(modified(type_name, change))
    assert report is not None and report.ignored == []


def test_default_ignores_can_be_turned_off():
    churn = modified("autoscaling.group", fc("attributes.desired_capacity", old=2, new=5))
    assert drift(churn, DriftSettings(default_ignores=False)).diff == churn.diff


def rule(**fields):
    return DriftIgnoreRule(**fields)


@pytest.mark.parametrize(("ignore", "ignored"), [
    (rule(type="ec2.instance", fields=["attributes.monitoring"]), True),
    (rule(type="ec2.*", fields=["attributes.monitoring"]), True),  # type glob
    (rule(fields=["attributes.monitor*"]), True),  # field glob, every type
    (rule(fields=["attributes.*"]), True),
    (rule(type="rds.*", fields=["attributes.monitoring"]), False),  # another type
    (rule(type="ec2.instance", fields=["attributes.monitoring_x"]), False),  # another field
    (rule(fields=["attributes.monitoring"], tags={"env": "sandbox"}), True),  # tag selection
    (rule(fields=["attributes.monitoring"], tags={"env": "sand*"}), True),  # value glob
    (rule(fields=["attributes.monitoring"], tags={"team*": "*"}), True),  # key glob
    (rule(fields=["attributes.monitoring"], tags={"env": "prod"}), False),
    (rule(fields=["attributes.monitoring"], tags={"missing": "*"}), False),
])
def test_user_ignore_rules_match_type_field_and_tags_with_globs(ignore, ignored):
    change = modified("ec2.instance", fc("attributes.monitoring", old="disabled", new="enabled"),
                      tags={"env": "sandbox", "team-x": "web"})
    report = drift(change, DriftSettings(ignore=[ignore]))
    assert (report is None) is ignored
    if ignored and ignore.fields != ["attributes.*"]:  # beside a field it does not cover, named with its rule
        both = modified("ec2.instance", change.diff[0], fc("attributes.instance_type", old="t3.micro", new="t3.large"),
                        tags=change.resource.tags)
        assert [(i.path, i.rule) for i in drift(both, DriftSettings(ignore=[ignore])).ignored] == [
            ("attributes.monitoring", "ignore[0]")]


def test_a_field_glob_covers_what_is_under_it():
    change = modified("s3.bucket", fc("attributes.public_access_block.block_public_acls", old=True, new=False))
    assert drift(change, DriftSettings(ignore=[rule(type="s3.bucket", fields=["attributes.public_access_block"])])) is None


def test_a_tag_key_pattern_leaves_those_tags_out():
    change = modified("ec2.instance", fc("tags.kubernetes.io/cluster/prod", "add", new="owned"),
                      fc("tags.owner", "remove", old="alice"))
    report = drift(change, DriftSettings(ignore=[rule(fields=["tags.kubernetes.io/*"])]))
    assert [c.path for c in report.diff] == ["tags.owner"]


def test_an_ignore_rule_that_can_match_nothing_stops_start_up_naming_the_field():
    with pytest.raises(ValueError, match="analyzer.drift.ignore.0"):
        Settings(analyzer={"drift": {"ignore": [{"type": "ec2.instnace"}]}})
    with pytest.raises(ValueError, match="can match no change"):
        Settings(analyzer={"drift": {"ignore": [{"fields": ["monitoring"]}]}})
    with pytest.raises(ValueError, match="Extra inputs"):  # a misspelt key is refused, not ignored
        Settings(analyzer={"drift": {"ignore_fieldz": ["x"]}})


def test_the_same_rules_in_yaml_work(tmp_path):
    config = tmp_path / "elava.yaml"
    config.write_text("analyzer:\n  drift:\n    ignore:\n      - {type: 'ec2.*', fields: ['attributes.monitoring']}\n")
    from elava.settings import load_settings

    settings = load_settings(config)
    change = modified("ec2.instance", fc("attributes.monitoring", old="disabled", new="enabled"))
    assert drift(change, settings.analyzer.drift) is None
    assert drift(modified("ec2.security-group", fc("attributes.ingress", "add", new=SSH_WORLD)),
                 settings.analyzer.drift) is not None


def _by_glob(declared, change):
    """The default rules as their globs define them (fnmatch), to hold the fast tests to."""
    from fnmatch import fnmatchcase

    from streams.analyzers.ignore import AWS_TAGS, _is_empty_change, _path_matches, _state_rule

    if fnmatchcase(change.path, AWS_TAGS):
        return "aws-tag"
    if _is_empty_change(change):
        return "empty-value"
    churn = declared is not None and any(_path_matches(change.path, f"attributes.{n}") for n in declared.churn)
    return _state_rule(declared, change) or ("churn" if churn else None)


def test_the_default_rules_match_what_their_globs_match_for_every_declared_type():
    from elava.catalogue import registry
    from streams.analyzers.ignore import default_rule

    paths = ["tags.aws:", "tags.aws:x.y", "tags.aws", "tags.awsx:y", "tags.Aws:x", "attributes.aws:x", "tags.owner"]
    checked = 0
    for declared in [*registry.all_types(), None]:
        names = [*(declared.churn if declared else ()), "state", "name"]
        for name in names:
            paths += [f"attributes.{name}", f"attributes.{name}.inner", f"attributes.{name}x",
                      f"attributes.{name}[0]", f"attributes.{name}.", f"tags.{name}"]
        for path in paths:
            change = fc(path, old="a", new="b")
            assert default_rule(declared, change) == _by_glob(declared, change), (declared and declared.name, path)
            checked += 1 if _by_glob(declared, change) == "churn" else 0
    assert checked > 20  # churn paths were among them
