"""docs/schemas/ and the generated parts of docs/topics.md match the models, and every
sample message is valid against the schema its ce_dataschema header names."""

from __future__ import annotations

import inspect
import json

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from elava import analyzer_events, events
from elava.events import VALUE_TOPIC, Event, cloudevent_headers
from elava.topics import CATALOG
from streams.schemas import SCHEMA_DIR, TOPIC_VALUES, TOPICS_DOC, render, sample, schema_files, topic_schema

STALE = "stale: run python -m streams.schemas --write"


def registry() -> Registry:
    """docs/schemas/ as a consumer would load it: each file under its $id."""
    schemas = [json.loads(path.read_text()) for path in sorted(SCHEMA_DIR.glob("*.json"))]
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas)


def test_one_schema_per_topic_and_each_is_current():
    assert sorted(TOPIC_VALUES) == sorted(spec.suffix for spec in CATALOG)
    on_disk = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.json")}
    assert on_disk == schema_files(), STALE


def test_the_topic_table_and_samples_in_docs_are_current():
    document = TOPICS_DOC.read_text()
    assert render(document) == document, STALE


@pytest.mark.parametrize("topic", sorted(TOPIC_VALUES))
def test_every_sample_is_valid_against_its_topic_schema(topic):
    schema = topic_schema(topic)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, registry=registry())
    for make in TOPIC_VALUES[topic].samples:
        made = make()
        value = made.model_dump(mode="json") if hasattr(made, "model_dump") else made
        assert list(validator.iter_errors(value)) == []
    assert sample(topic) is not None


@pytest.mark.parametrize("topic", [t for t, v in TOPIC_VALUES.items() if v.models])
def test_a_value_missing_a_field_fails_its_schema(topic):
    value = sample(topic)
    dropped = "event_id" if "event_id" in value else next(iter(value))
    broken = {k: v for k, v in value.items() if k != dropped}
    assert list(Draft202012Validator(topic_schema(topic)).iter_errors(broken)) != []


def test_every_event_type_names_a_schema_of_a_topic_that_carries_it():
    event_types = {cls for module in (events, analyzer_events) for _, cls in inspect.getmembers(module, inspect.isclass)
                   if issubclass(cls, Event) and cls is not Event}
    for cls in event_types:
        topic = VALUE_TOPIC.get(cls.ce_type)
        assert topic is not None, f"{cls.__name__} has no schema topic in elava.events.VALUE_TOPIC"
        assert cls in TOPIC_VALUES[topic].models, f"{topic} schema does not describe {cls.__name__}"


@pytest.mark.parametrize("topic", [t for t, v in TOPIC_VALUES.items() if v.models and issubclass(v.models[0], Event)])
def test_the_ce_dataschema_header_resolves_to_a_schema_the_value_meets(topic):
    resources = registry()
    for make in TOPIC_VALUES[topic].samples:
        event = make()
        headers = dict(cloudevent_headers(event, "test"))
        schema = resources.contents(headers["ce_dataschema"].decode())
        assert list(Draft202012Validator(schema, registry=resources).iter_errors(
            event.model_dump(mode="json"))) == []
