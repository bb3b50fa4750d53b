"""docs/analyzers.md lists the per-type defaults from the type declarations and must not drift from them."""

from streams.analyzers.doc import DOC, rendered


def test_the_per_type_defaults_in_the_docs_are_current():
    document = DOC.read_text()
    assert rendered(document) == document, "stale: run python3 -m streams.analyzers.doc --write"


def test_every_declared_churn_field_is_documented():
    from elava.catalogue.registry import all_types

    document = DOC.read_text()
    for rt in all_types():
        for name in rt.churn:
            assert f"| `{rt.name}` | `attributes.{name}` |" in document
