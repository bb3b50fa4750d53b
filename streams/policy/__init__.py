"""Policy engine: OPA Rego policies evaluated in-process (regopy) on attributed changes.

Pure core: imports neither Faust, aiokafka nor boto. See docs/policies.md.
"""

from streams.policy.engine import LoadedPolicy, PolicyEngine
from streams.policy.exceptions import PolicyError, PolicyLoadError, PolicyOutputError

__all__ = ["LoadedPolicy", "PolicyEngine", "PolicyError", "PolicyLoadError", "PolicyOutputError"]
