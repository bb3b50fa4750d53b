"""The severity of each policy, from its definition: what a policy decision's OCSF finding says."""

from __future__ import annotations

from elava.settings import PolicySettings


def policy_severities(settings: PolicySettings) -> dict[str, str]:
    """Policy name -> severity (info .. critical) of the policies ``settings`` loads; {} when off."""
    from streams.policy.definitions import load_definition, policy_files
    from streams.policy.engine import shipped_policy_dir

    directory = settings.path or shipped_policy_dir()
    if not settings.enabled or not directory.is_dir():
        return {}
    return {path.stem: load_definition(path.with_suffix(".yaml")).severity for path in policy_files(directory)}
