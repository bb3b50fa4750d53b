"""Facts several layers share: the drift and risk analyzers read them here, and every
policy reads them as ``data.elava.constants`` (`POLICY_DATA`), so none keeps a copy."""

from __future__ import annotations

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
"""Every address: a rule from one of these lets the whole internet in."""

ADMIN_PORTS = frozenset({22, 3389})
"""SSH and RDP: open to the world, the worst exposure (critical drift, open_admin_ports)."""

POLICY_DATA = {"world_cidrs": sorted(WORLD_CIDRS), "admin_ports": sorted(ADMIN_PORTS)}
"""What policies see as ``data.elava.constants``."""
