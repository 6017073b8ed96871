"""Building the problems' C++ CPU kernels once per machine, and falling back where that fails.

``torch.utils.cpp_extension.load_inline`` compiles a kernel on its first use on a machine (20–60
s, cached by torch between processes, 0.2 s to load after). A machine without ninja or a C++
compiler, or a failed build, gets None and a warning: every kernel has a torch path that computes
the same function, equal to float rounding (so a run without the kernel does not repeat one with
it bit for bit, as on another CPU).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from types import ModuleType

FLAGS = ["-O3", "-march=native", "-ffast-math", "-fno-finite-math-only"]
"""Vectorised for this machine's CPU; infinities and NaN keep their IEEE meaning."""


def build(
    name: str,
    source: str,
    functions: list[str] | None,
    extra_flags: tuple[str, ...] = (),
    libraries: tuple[str, ...] = (),
) -> ModuleType | None:
    """The compiled module ``name`` of ``source`` exporting ``functions`` (None: the source binds
    its module itself, for a class), or None (with a warning)."""
    if shutil.which("ninja") is None or (shutil.which("c++") is None and shutil.which("g++") is None):
        warnings.warn(f"kernel {name} unavailable (needs ninja and a C++ compiler); using the torch path", stacklevel=3)
        return None
    # torch logs "No CUDA runtime is found" when this module is first imported on a CPU machine:
    # true, and irrelevant to a CPU kernel.
    log = logging.getLogger("torch.utils.cpp_extension")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        from torch.utils.cpp_extension import load_inline

        return load_inline(
            name,
            cpp_sources=source,
            functions=functions,
            extra_cflags=[*FLAGS, *extra_flags],
            extra_ldflags=[f"-l{library}" for library in libraries],
        )
    except Exception as exc:  # no toolchain, a failed build: the torch path computes the same, slower
        warnings.warn(f"kernel {name} unavailable ({type(exc).__name__}: {exc}); using the torch path", stacklevel=3)
        return None
    finally:
        log.setLevel(level)
