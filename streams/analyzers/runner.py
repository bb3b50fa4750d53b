"""The analyzers of one partition under ``analyzer.drift`` and ``analyzer.patterns``: drift and
lifecycle patterns of each stored change. Patterns are kept with their version
(streams/store/findings.py); drift is not (it is derived again on read, streams/analyzers/reports.py).

Both drivers call it through the partition processor, so they find the same things.
"""

from __future__ import annotations

from elava.analyzer_events import DriftEvent, PatternEvent
from elava.events import AttributedChange, ChangeEvent
from elava.settings import DriftSettings, PatternSettings
from streams.analyzers.drift import DriftAnalyzer
from streams.analyzers.patterns import LifecyclePatterns
from streams.store.findings import Findings
from streams.store.records import Version
from streams.store.versioned import VersionStore


class Analyzers:
    def __init__(self, store: VersionStore, drift: DriftSettings | None = None,
                 patterns: PatternSettings | None = None) -> None:
        self.drift_settings, self.patterns_settings = drift or DriftSettings(), patterns or PatternSettings()
        self.drift_analyzer = DriftAnalyzer(self.drift_settings)
        self.lifecycle = LifecyclePatterns(store, self.patterns_settings, self.drift_analyzer.ignore)
        self.findings = Findings(store)

    def drift(self, change: ChangeEvent, attributed: AttributedChange | None) -> list[DriftEvent]:
        """The drift of a change just stored (``analyzer.drift.enabled``)."""
        if not self.drift_settings.enabled:
            return []
        drift = self.drift_analyzer.drift_for(change, attributed)
        return [drift] if drift is not None else []

    def patterns(self, change: ChangeEvent, stored: Version | None = None) -> list[PatternEvent]:
        """The lifecycle patterns a change just stored completes (``analyzer.patterns.enabled``);
        ``stored``: its version as written, which the patterns then need not decode again."""
        if not self.patterns_settings.enabled:
            return []
        found = self.lifecycle.after(change, stored)
        for pattern in found:
            self.findings.record_pattern(pattern, change.new_version)
        return found
