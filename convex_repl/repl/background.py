"""The workspace made in a background thread while the prompt comes up: start-up shows the
prompt first and loads the CVM (kernel, lisp, genesis) after. `Pending` is that load;
`wait_for_cvm()` is for code that must not import the CVM while it runs."""
from __future__ import annotations

from typing import Any, Callable, Optional

_loading: "Pending | None" = None     # the background load of the CVM, once started


def wait_for_cvm() -> None:
    """Wait for a background load of the CVM to finish: importing kernel or lisp from another
    thread while it runs can meet half-initialised modules."""
    if _loading is not None and _loading._started:
        _loading.waited = True
        _loading._thread.join()


class Pending:
    """A value computed in a background thread; `get()` waits for it (re-raising errors)."""

    def __init__(self, make: Callable[[], Any]):
        import threading
        self._value: Any = None
        self._error: Optional[BaseException] = None

        def work() -> None:
            try:
                self._value = make()
            except BaseException as e:  # handed to the waiting thread
                self._error = e

        self._thread = threading.Thread(target=work, name="convex-workspace", daemon=True)
        self._started = False
        self.waited = False     # someone is waiting for it (an input was submitted meanwhile)

    def start(self) -> None:
        global _loading
        if not self._started:
            self._started = True
            _loading = self
            self._thread.start()

    def get(self) -> Any:
        self.start()
        self.waited = True
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
