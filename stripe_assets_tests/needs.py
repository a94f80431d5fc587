"""What a test needs from the machine (PostgreSQL, Chromium, ``../shared``): skipped with the
reason where it is missing, but a failure under CI (``CI`` set), where nothing may be missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: everything the suite needs must be there)")
    pytest.skip(reason)
