"""`elava watch`: the embedded scans keep one detail cache, so a repeated scan of an
unchanged account asks no details, and a change behind the listing waits for the refresh tier."""

from __future__ import annotations

from datetime import timedelta

from collectors.aws.detail_cache import DetailCache
from elava.demo.simulated import CREDENTIALS, SimulatedAccount
from elava.settings import Settings
from streams.drivers.embedded.scan import embedded_scan


async def test_repeated_embedded_scans_reuse_details_until_the_refresh(tmp_path, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with SimulatedAccount() as account:
        account.reset()
        s3 = account.client("s3")
        for n in range(3):
            s3.create_bucket(Bucket=f"kept-{n}")
        settings = Settings(storage={"path": tmp_path / "store"}, policies={"enabled": False},
                            providers={"aws": {"endpoint_url": account.endpoint_url}})
        details = DetailCache(timedelta(hours=6))
        first = await embedded_scan(settings, ["s3.bucket"], details=details)
        s3.put_bucket_versioning(Bucket="kept-1", VersioningConfiguration={"Status": "Enabled"})
        second = await embedded_scan(settings, ["s3.bucket"], details=details)
        details.refresh = timedelta(0)  # the refresh tier falls due
        third = await embedded_scan(settings, ["s3.bucket"], details=details)

    assert first.scans[0].report.calls_by_type() == {"s3.bucket": 2 + 3 * 7}
    assert second.scans[0].report.calls_by_type() == {"s3.bucket": 2}  # the listing and the account's block
    assert not second.partial and second.outputs.changes == []  # nothing reused turned into a change
    assert [(c.uid, c.kind) for c in third.outputs.changes] == [("arn:aws:s3:::kept-1", "modified")]
