"""A local, deterministic, fault-injecting Stripe API for tests, demos and benchmarks.

    from stripe_assets.sandbox import SandboxConfig, running_sandbox

    with running_sandbox(SandboxConfig(seed=42, start="2024-04-01", end="2024-04-08")) as sb:
        sb.base_url, sb.api_key        # "http://127.0.0.1:PORT", "sk_test_sandbox"
        sb.counts(gte, lt)             # ground truth per table for a created window

Default API key: ``sk_test_sandbox`` (``DEFAULT_API_KEY``). See ``admin.py`` for ``/_sandbox``.
"""

from .config import DEFAULT_API_KEY, FAULT_KINDS, SandboxConfig
from .runner import SandboxHandle, running_sandbox

__all__ = ["DEFAULT_API_KEY", "FAULT_KINDS", "SandboxConfig", "SandboxHandle", "running_sandbox"]
