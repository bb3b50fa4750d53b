"""Policy engine: OPA Rego policies evaluated in-process (OPA-compiled Wasm, or regopy) on attributed changes.

Pure core: imports neither Faust, aiokafka nor boto. See docs/policies.md.
"""

# rocksdict must be loaded before regopy (every module of this package imports this
# file first): loaded after it, opening a RocksDB database aborts the process
# ("double free or corruption"; regopy 1.5.2, rocksdict 0.3.29).
import rocksdict  # noqa: F401  (load order only)

# isort: split

from streams.policy.engine import LoadedPolicy, PolicyEngine
from streams.policy.exceptions import PolicyError, PolicyLoadError, PolicyOutputError

__all__ = ["LoadedPolicy", "PolicyEngine", "PolicyError", "PolicyLoadError", "PolicyOutputError"]
