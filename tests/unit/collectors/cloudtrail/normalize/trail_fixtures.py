"""The CloudTrail records under ``records/``, written after the formats AWS documents.

``identities/``: one raw record per kind of caller; ``families/``: one CloudTrail log
file (``{"Records": [...]}``) per event family; ``shapes/``: the same records as
EventBridge and LookupEvents deliver them; ``unchanged.json``: failed and read-only calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDS = Path(__file__).parent / "records"
ACCOUNT = "111122223333"


def load(relative: str) -> Any:
    return json.loads((RECORDS / relative).read_text())


def identity(name: str) -> dict[str, Any]:
    return load(f"identities/{name}.json")


def family_records(name: str) -> list[dict[str, Any]]:
    return load(f"families/{name}.json")["Records"]


def all_family_records() -> list[tuple[str, int, dict[str, Any]]]:
    return [(path.stem, index, record) for path in sorted((RECORDS / "families").glob("*.json"))
            for index, record in enumerate(json.loads(path.read_text())["Records"])]
