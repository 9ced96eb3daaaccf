"""What the CPU computes natively: bfloat16 in hardware (AVX-512 BF16, AMX) makes mixed precision
worth it on the CPU; elsewhere bf16 is emulated and slower than float32."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def flags(cpuinfo: str) -> set[str]:
    """The feature flags of /proc/cpuinfo's text (Linux: 'flags', on ARM 'Features')."""
    found: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            found.update(value.split())
    return found


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True where the CPU has bfloat16 arithmetic in hardware (x86: AVX-512 BF16 or AMX; ARM:
    the bf16 extension). Unknown platforms answer False: float32 is the safe default."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    found = flags(text)
    return any(f in found for f in BF16_FLAGS) or "bf16" in found
