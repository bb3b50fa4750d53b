"""The OCSF classes Elava emits (why each: docs/siem.md) and the schema version they follow."""

from __future__ import annotations

from dataclasses import dataclass

OCSF_VERSION = "1.8.0"


@dataclass(frozen=True)
class OcsfClass:
    name: str
    uid: int
    category_uid: int
    caption: str

    def type_uid(self, activity_id: int) -> int:
        """OCSF's rule: the class uid times 100 plus the activity id."""
        return self.uid * 100 + activity_id


DETECTION_FINDING = OcsfClass("detection_finding", 2004, 2, "Detection Finding")
COMPLIANCE_FINDING = OcsfClass("compliance_finding", 2003, 2, "Compliance Finding")
API_ACTIVITY = OcsfClass("api_activity", 6003, 6, "API Activity")

EMITTED_CLASSES = [c.name for c in (DETECTION_FINDING, COMPLIANCE_FINDING, API_ACTIVITY)]
