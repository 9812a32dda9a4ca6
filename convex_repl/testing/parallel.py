"""`convex test -j N`: test files run in N worker processes (the CVM is pure Python, so
threads would share one core). Workers are forked from the runner once its base session
(genesis or a `--fork` state, with the test library) is built, so none rebuilds it; each
file's outcomes come back whole and are reported in file order, as a serial run would.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Optional


def _one(path: str, pattern: Optional[str], options: Any) -> tuple:
    from convex_repl.testing.runner import Report, run_file
    rep = run_file(Path(path), pattern, Report(), None, None, options)
    return rep.tests, rep.file_errors


def run_parallel(files: list, pattern: Optional[str], on_result, options: Any, jobs: int,
                 report: Any) -> Any:
    from convex_repl.testing.runner import base_session
    base_session()                       # built once here, inherited by the workers
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), mp_context=ctx) as pool:
        futures = [pool.submit(_one, str(f), pattern, options) for f in files]
        for fut in futures:
            tests, errors = fut.result()
            for t in tests:
                report.tests.append(t)
                if on_result:
                    on_result(t)
            report.file_errors.extend(errors)
    return report


__all__ = ["run_parallel"]
