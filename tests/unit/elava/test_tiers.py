import pytest

from elava.events import Resource
from elava.exceptions import SettingsError
from elava.settings import load_settings
from elava.tiers import in_tiers, select_tiers, tier_accounts, tier_types


@pytest.fixture
def settings(tmp_path):
    path = tmp_path / "elava.yaml"
    path.write_text("""
tiers:
  - {name: critical, accounts: ["111111111111"], types: [rds.instance]}
  - {name: production, tags: {env: prod}, types: [ec2.instance]}
  - {name: everything}
""")
    return load_settings(path)


def resource(account, tags):
    return Resource(uid="u", type="ec2.instance", id="i", account=account, region="r", tags=tags)


def test_tiers_select_accounts_types_and_tagged_resources(settings):
    critical, production = select_tiers(settings, ["critical", "production"])
    assert tier_accounts([critical], ["111111111111", "222222222222"]) == ["111111111111"]
    assert tier_types([critical, production]) == ["ec2.instance", "rds.instance"]
    assert tier_types(select_tiers(settings, ["everything"])) is None
    assert in_tiers(resource("222222222222", {"env": "prod"}), [production])
    assert not in_tiers(resource("222222222222", {"env": "dev"}), [production])
    assert in_tiers(resource("111111111111", {}), [critical])


def test_unknown_tier_is_a_clear_error(settings):
    with pytest.raises(SettingsError, match="unknown tier.*nope"):
        select_tiers(settings, ["nope"])
