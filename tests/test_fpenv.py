"""The floating-point environment check passes here and detects a changed rounding mode, FTZ and DAZ.

The negative tests change the environment only inside a child Python process.
"""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys

import pytest

from checker.kernel.fpenv import assert_fp_environment

X86_64 = platform.machine() in ("x86_64", "AMD64") and sys.platform.startswith("linux")

# <fenv.h> rounding-mode constants of x86-64 (glibc and musl).
X86_ROUNDING_MODES = {"upward": 0x800, "downward": 0x400, "toward-zero": 0xC00}
# MXCSR control bits of SSE: flush-to-zero and denormals-are-zero.
MXCSR_BITS = {"FTZ": 0x8000, "DAZ": 0x0040}

_CHECK_AND_REPORT = """
from checker.kernel.fpenv import FPEnvironmentError, assert_fp_environment
try:
    assert_fp_environment()
except FPEnvironmentError as error:
    print(error)
    sys.exit(0)
sys.exit(1)
"""

_SET_ROUNDING = """
import ctypes, sys
if ctypes.CDLL(sys.argv[1]).fesetround(int(sys.argv[2])) != 0:
    sys.exit(3)
"""

# stmxcsr [rdi]; ret / ldmxcsr [rdi]; ret, run from an executable page (x86-64 SysV ABI).
_SET_MXCSR = """
import ctypes, mmap, sys
try:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except OSError:
    sys.exit(4)
page.write(bytes([0x0F, 0xAE, 0x1F, 0xC3, 0x0F, 0xAE, 0x17, 0xC3]))
address = ctypes.addressof(ctypes.c_char.from_buffer(page))
signature = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32))
store, load = signature(address), signature(address + 4)
word = ctypes.c_uint32()
store(ctypes.byref(word))
word.value |= int(sys.argv[1])
load(ctypes.byref(word))
"""


def _run_child(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script + _CHECK_AND_REPORT, *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def _assert_refused(child: subprocess.CompletedProcess, *words: str) -> None:
    if child.returncode in (3, 4):
        pytest.skip("cannot change the floating-point environment here")
    assert child.returncode == 0, child.stdout + child.stderr
    message = child.stdout.strip()
    assert message.startswith("floating-point environment: ") and "\n" not in message
    assert any(word in message for word in words), message


def test_environment_is_ieee_round_to_nearest_with_subnormals() -> None:
    assert_fp_environment()
    assert_fp_environment()  # idempotent: it changes nothing


@pytest.mark.skipif(not X86_64, reason="x86-64 Linux fenv constants")
@pytest.mark.parametrize("mode", sorted(X86_ROUNDING_MODES))
def test_a_directed_rounding_mode_is_refused(mode: str) -> None:
    libm = ctypes.util.find_library("m")
    if libm is None:
        pytest.skip("no libm to change the rounding mode with")
    _assert_refused(_run_child(_SET_ROUNDING, libm, str(X86_ROUNDING_MODES[mode])), "rounding")


@pytest.mark.skipif(not X86_64, reason="x86-64 MXCSR")
@pytest.mark.parametrize("flags", [("FTZ",), ("DAZ",), ("FTZ", "DAZ")])
def test_flush_to_zero_and_denormals_are_zero_are_refused(flags: tuple[str, ...]) -> None:
    bits = sum(MXCSR_BITS[flag] for flag in flags)
    _assert_refused(_run_child(_SET_MXCSR, str(bits)), *flags)
