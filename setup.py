"""Build: the pure-Python packages (pyproject.toml says what they are), plus the hot modules of
the state transition and the peer compiled ahead of time with Cython (issue 16, item 5).

The compiled modules are the same source, built next to it as extension modules, which Python
prefers to the `.py`; `kernel/compiled.py` falls back to the source when it was edited after
the build or when CONVEX_PURE_PYTHON=1. Compiling is optional: without Cython or a C compiler
(or with CONVEX_PURE_PYTHON=1 at install time) the install still succeeds and everything runs
as Python, only slower.
"""
import os
import runpy
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
# the one list, shared with the loader (read by path: the package's dependencies are not
# installed while it builds)
COMPILED = runpy.run_path(os.path.join(HERE, "kernel", "compiled.py"))["COMPILED"]


class OptionalBuildExt(build_ext):
    """build_ext that compiles on every core and turns a failure into a warning."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        try:
            super().run()
        except Exception as e:     # no compiler, no Python headers...
            _warn(e)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as e:
            _warn(e)


def _warn(e: Exception) -> None:
    print(f"convex-repl: compiling the hot modules failed ({e}); they run as Python",
          file=sys.stderr)


def extensions() -> list:
    if os.environ.get("CONVEX_PURE_PYTHON"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        return []
    sources = [name.replace(".", "/") + ".py" for name in COMPILED]
    return cythonize(sources, quiet=True, nthreads=os.cpu_count() or 1,
                     compiler_directives={"language_level": 3, "binding": True})


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
