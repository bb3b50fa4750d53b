"""The checks the deployment tests rely on refuse what they must (a check that passes
everything would let every file through)."""

from __future__ import annotations

import pytest

from tests.unit.deploy.checks import (
    cli_error,
    image_is_pinned,
    setting_exists,
    shadowed_settings,
    unknown_topic_mentions,
    unknown_variables,
)


@pytest.mark.parametrize("args", [["collect", "--serve"], ["topics", "create"], ["trail", "collect"],
                                  ["worker", "--loglevel", "INFO"], ["executor"], ["schedule"]])
def test_real_commands_parse(args):
    assert cli_error(args) is None


@pytest.mark.parametrize(("args", "why"), [
    (["collect", "--serv"], "No such option: --serv"),
    (["colect"], "no command 'elava colect'"),
    (["topics"], "is a group, not a command"),
    (["topics", "crate"], "no command 'elava topics crate'"),
    (["worker", "--loglevel"], "requires an argument"),
])
def test_wrong_commands_are_refused_saying_why(args, why):
    assert why in (cli_error(args) or "")


def test_variables_are_checked_against_the_settings_model():
    good = ["ELAVA_CONFIG", "ELAVA_TIERS", "ELAVA_KAFKA__BOOTSTRAP_SERVERS", "ELAVA_PROVIDERS__AWS__REGIONS",
            "ELAVA_WORKER__WEB_PORT", "AWS_REGION"]
    assert unknown_variables(good) == []
    bad = ["ELAVA_WORKER__WEB_PORTT", "ELAVA_WORKERS__WEB_PORT", "ELAVA_PROVIDERS__REGIONS", "ELAVA_KAFKA_PARTITIONS"]
    assert unknown_variables(bad) == sorted(bad)


def test_settings_are_found_by_their_dotted_names():
    assert setting_exists("worker.web_port") and setting_exists("providers.aws.regions")
    assert not setting_exists("worker.web_portt") and not setting_exists("providers.regions")


@pytest.mark.parametrize(("image", "pinned"), [
    ("apache/kafka:3.9.1", True), ("ghcr.io/kafbat/kafka-ui:v1.3.0", True),
    ("python:3.11.14-slim-bookworm", True), ("registry:5000/x@sha256:" + "a" * 64, True),
    ("motoserver/moto:latest", False), ("python:3.11-slim", False), ("moto", False), ("localhost:5000/moto", False),
])
def test_only_release_tags_count_as_pinned(image, pinned):
    assert image_is_pinned(image) is pinned


def test_topic_mentions_are_checked_against_the_catalog():
    assert unknown_topic_mentions("<prefix>.scan-requests and <prefix>.changes") == []
    assert unknown_topic_mentions("<prefix>.scan-request") == ["scan-request"]


def test_a_file_setting_the_image_overrides_is_found(tmp_path):
    config = tmp_path / "elava.yaml"
    config.write_text("worker:\n  data_dir: /var/lib/elava\n")  # the image sets ELAVA_WORKER__DATA_DIR
    assert shadowed_settings(config) == ["worker.data_dir"]
