"""Where the user's files live ($CONVEX_HOME, else ~/.convex) and what can be read there
without importing the kernel (start-up time is the REPL's first impression)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

DEFAULT_ADDRESS = 13      # stdlib.genesis.FIRST_USER, without importing the kernel


def convex_home(create: bool = True) -> Path:
    """The user's convex directory: $CONVEX_HOME, else ~/.convex."""
    env = os.environ.get("CONVEX_HOME")
    p = Path(env).expanduser() if env else Path.home() / ".convex"
    if create:
        p.mkdir(parents=True, exist_ok=True)
    return p


def peek_address(home: Optional[Path], fresh: bool = False) -> int:
    """The acting address a saved session will have, read cheaply (no kernel import)."""
    if home is None or fresh:
        return DEFAULT_ADDRESS
    try:
        return int(json.loads((home / "session.json").read_text()).get("address",
                                                                         DEFAULT_ADDRESS))
    except (OSError, ValueError, TypeError, AttributeError):
        return DEFAULT_ADDRESS
