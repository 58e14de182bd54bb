"""Declares the extension; all metadata lives in pyproject.toml.

FASTKAIMING_SANITIZE=address,undefined (or thread) builds the extension with those sanitizers,
for the test suite under them (see .ci/run); never for a release.
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# kernel_avx2.c and kernel_avx512.c enable their instruction sets by pragma, per unit;
# kernel_neon.c needs no flag (NEON is baseline AArch64). Each per-ISA unit compiles to nothing
# on another architecture (its #if), so one list serves every target, macOS universal2 builds
# (x86-64 and arm64 in one pass) included.
C_SOURCES = [
    "csrc/fill.c",
    "csrc/pool.c",
    "csrc/kernel_scalar.c",
    "csrc/kernel_avx2.c",
    "csrc/kernel_avx512.c",
    "csrc/kernel_neon.c",
]

if sys.platform == "win32":
    compile_args = ["/fp:precise"]
    link_args = []
else:
    # Baseline ISA flags only; -ffp-contract=off keeps every fused multiply-add explicit.
    compile_args = ["-std=c11", "-O2", "-ffp-contract=off", "-fno-math-errno", "-pthread"]
    link_args = ["-pthread"]
    sanitize = os.environ.get("FASTKAIMING_SANITIZE", "").strip()
    if sanitize:
        flags = [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"]
        if "undefined" in sanitize:
            flags.append("-fno-sanitize-recover=undefined")  # undefined behaviour is fatal
        compile_args += flags
        link_args += flags

extensions = [
    Extension(
        "fastkaiming._core",
        sources=["src/fastkaiming/_core.pyx", *C_SOURCES],
        include_dirs=["csrc"],
        libraries=[] if sys.platform == "win32" else ["m"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
]

setup(ext_modules=cythonize(extensions, language_level=3))
