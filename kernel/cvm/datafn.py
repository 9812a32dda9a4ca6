"""Values that act as functions: maps and indexes look up keys, sets test membership,
sequences index by position, and keywords look themselves up in a map. The rules live with
the collection functions (kernel.core.collections.DataFn); this is the interpreter's door."""
from __future__ import annotations

from typing import Any, Callable, Optional


def lookup(f: Any) -> Optional[Callable]:
    """The invoke callable for a data value used as a function, or None."""
    from kernel.core.collections import as_function

    g = as_function(f)
    return None if g is None else g.invoke
