"""`elava actions` shows who acted, with which AWS request ids, for each result."""

from __future__ import annotations

from rich.console import Console

from elava.cli.actions import results_table
from elava.events import AwsCall
from streams.executor.plan import Audit, result_for
from tests.unit.streams.executor.fixtures import NOW, request


def test_the_table_names_the_principal_and_the_request_ids():
    audit = Audit(principal="arn:aws:sts::123456789012:assumed-role/ElavaExecutor/elava-executor",
                  calls=(AwsCall(operation="ec2:stop_instances", request_id="req-7f3a"),))
    results = [result_for(request("stop"), "executed", "stopped instance i-0abc", dry_run=False, now=NOW, audit=audit),
               result_for(request("tag"), "rejected", "unsigned request", dry_run=True, now=NOW)]
    console = Console(record=True, width=300)
    console.print(results_table(results))
    text = console.export_text()
    assert "2 action results" in text and "req-7f3a" in text and "assumed-role/ElavaExecutor" in text
    assert "executed " in text and "rejected " in text and "(dry-run)" not in text.split("rejected")[1][:20]
