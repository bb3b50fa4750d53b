"""A progress bar per account and region while `elava scan` runs."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from elava.events import Observation, ScanMarker


class ScanProgress:
    """A ScanSink that advances a bar when a type of an account/region is done."""

    def __init__(self, progress: Progress, types_per_scope: dict[str, int]) -> None:
        self.progress = progress
        self.types_per_scope = types_per_scope
        self.tasks: dict[tuple[str, str], int] = {}

    @classmethod
    def bars(cls) -> Progress:
        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[resources]} resources"), transient=False)

    def _task(self, account: str, region: str) -> int:
        key = (account, region)
        if key not in self.tasks:
            total = self.types_per_scope["global" if region == "global" else "regional"]
            self.tasks[key] = self.progress.add_task(f"{account} {region}", total=total, resources=0)
        return self.tasks[key]

    async def page(self, obs: Observation) -> None:
        task = self._task(obs.account, obs.region)
        done = self.progress.tasks[self.progress.task_ids.index(task)].fields["resources"]
        self.progress.update(task, resources=done + len(obs.resources))

    async def marker(self, marker: ScanMarker) -> None:
        if marker.shard.endswith("/0"):  # one marker per shard; count each type once
            self.progress.advance(self._task(marker.account, marker.region))
