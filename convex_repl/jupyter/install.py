"""The kernel spec (`convex jupyter install`): kernel.json naming this Python and the kernel's
arguments, installed where Jupyter looks (this environment, the user's, or a prefix)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Optional


def kernel_json(url: Optional[str] = None, fork: bool = False) -> dict:
    """The spec: this interpreter runs `-m convex_repl.jupyter`, so the kernel uses the
    convex-repl installed with it."""
    argv = [sys.executable, "-m", "convex_repl.jupyter", "-f", "{connection_file}"]
    display = "Convex Lisp"
    if url:
        argv += ["--url", url]
        display += f" (peer {url})"
    elif fork:
        argv.append("--fork")
        display += " (saved session)"
    return {"argv": argv, "display_name": display, "language": "convex",
            "interrupt_mode": "signal", "metadata": {"debugger": False}}


def install(user: bool = False, prefix: Optional[Path] = None, name: str = "convex",
            url: Optional[str] = None, fork: bool = False) -> str:
    """Install the spec as kernel `name`; the directory it went to."""
    from jupyter_client.kernelspec import KernelSpecManager
    if not user and prefix is None:
        prefix = Path(sys.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(kernel_json(url, fork), indent=1))
        return KernelSpecManager().install_kernel_spec(
            tmp, name, user=user, prefix=None if prefix is None else str(prefix))


__all__ = ["install", "kernel_json"]
