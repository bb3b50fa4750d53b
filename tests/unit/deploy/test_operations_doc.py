"""docs/operations.md says what the deployment files do: the topics it names exist,
and the images it names are the ones the files pin."""

from __future__ import annotations

import re

import yaml

from tests.unit.deploy.checks import REPO, topic_suffixes, unknown_topic_mentions

DOC = (REPO / "docs" / "operations.md").read_text()


def test_the_topics_it_names_exist():
    assert unknown_topic_mentions(DOC) == []
    named = set(re.findall(r"`elava\.([a-z][a-z-]*)`", DOC)) - {"yaml"}
    assert named and named <= topic_suffixes(), named - topic_suffixes()


def test_it_names_the_images_the_files_pin():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    images = {service["image"] for service in services.values() if "build" not in service}
    images |= set(re.findall(r"^FROM\s+(\S+)", (REPO / "deploy" / "Dockerfile").read_text(), re.MULTILINE))
    assert len(images) == 4
    assert [image for image in sorted(images) if f"`{image}`" not in DOC] == []
