"""Tiers (`--tiers critical,production`): which accounts, types and resources belong."""

from __future__ import annotations

from elava.events import Resource
from elava.exceptions import SettingsError
from elava.settings import Settings, TierSettings


def select_tiers(settings: Settings, names: list[str]) -> list[TierSettings]:
    known = {tier.name: tier for tier in settings.tiers}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SettingsError(f"unknown tier(s) {', '.join(unknown)}; configured: {', '.join(known)}")
    return [known[name] for name in names]


def tier_accounts(tiers: list[TierSettings], accounts: list[str]) -> list[str]:
    return [a for a in accounts if any(t.has_account(a) for t in tiers)]


def tier_types(tiers: list[TierSettings]) -> list[str] | None:
    """The union of the tiers' types; None (every type) if any tier takes all."""
    if any(not t.types for t in tiers):
        return None
    return sorted({name for t in tiers for name in t.types})


def in_tiers(resource: Resource, tiers: list[TierSettings]) -> bool:
    return any(t.has_account(resource.account) and all(resource.tags.get(k) == v for k, v in t.tags.items())
               for t in tiers)
