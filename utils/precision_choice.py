"""Choosing the inference precision from a ``--precision fp32|bf16|fp16|auto`` flag.

Reduced precision only pays where the hardware computes it natively: bfloat16 on CPUs with
``avx512_bf16`` or AMX (elsewhere oneDNN emulates it, slower than float32), float16 on CUDA
(float16 convolutions on a CPU are slower and less accurate). ``auto`` takes the fast choice of
the device. What runs in low precision and what stays float32 is decided in
:mod:`models.low_precision`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Tuple, Union

import torch

from utils.errors import InputError

__all__ = ["PRECISION_CHOICES", "PRECISION_DTYPES", "add_precision_argument", "cpu_has_native_bfloat16", "cpu_description",
           "resolve_precision"]

PRECISION_CHOICES = ("fp32", "bf16", "fp16", "auto")
PRECISION_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

# CPU feature flags (Linux /proc/cpuinfo) meaning bfloat16 dot products in hardware: x86's
# AVX512-BF16 and AMX-BF16, and Arm's BF16 extension.
NATIVE_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})
CPUINFO = Path("/proc/cpuinfo")
# The flags that decide which kernels a CPU's convolutions run (and so which precision pays): the
# vector width, the int8 and bfloat16 dot products, AMX. What benchmarks print beside their figures.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx_vnni", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "asimd", "bf16", "i8mm")


def add_precision_argument(parser: argparse.ArgumentParser, what: str = "", *, fp16_alias: bool = False) -> None:
    """The ``--precision`` flag every tool shares (default fp32).

    ``fp16_alias`` adds ``--fp16``, the video tool's shorthand: pure command-line
    sugar for ``--precision fp16`` (it sets the same ``args.precision``, so every rule about
    fp16 is the library's), refused beside an explicit ``--precision``.
    """
    flags = parser.add_mutually_exclusive_group() if fp16_alias else parser
    flags.add_argument("--precision", choices=PRECISION_CHOICES, default="fp32",
                       help=f"compute precision{what}: fp32 (default), bf16 (CPUs with native bfloat16: avx512_bf16 "
                       "or AMX), fp16 (CUDA), auto (bf16 or fp16 where fast, else fp32); flows, warping and the "
                       "merge stay fp32 (README: Reduced precision)")
    if fp16_alias:
        flags.add_argument("--fp16", dest="precision", action="store_const", const="fp16",
                           help="same as --precision fp16 (CUDA only)")


def _cpu_info() -> Tuple[str, frozenset]:
    """The first processor's model name and feature flags from the kernel ("", {} where unreadable)."""
    try:
        text = CPUINFO.read_text(errors="replace")
    except OSError:
        return "", frozenset()
    name, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model") and not name:
            name = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = frozenset(value.split())
    return name, flags


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (tests monkeypatch this one function).

    Read from the kernel's CPU flags: torch's ``get_cpu_capability()`` stops at "AVX512", which
    CPUs with and without AVX512-BF16 share, and oneDNN's own check accepts the emulated case.
    Where the flags cannot be read (not Linux) the answer is no, so ``auto`` stays float32.
    """
    return bool(NATIVE_BFLOAT16_FLAGS & _cpu_info()[1])


def cpu_description() -> str:
    """The CPU's model name and its :data:`KERNEL_FLAGS`, e.g. ``"AMD EPYC (avx2 fma)"``, for a benchmark's header."""
    name, flags = _cpu_info()
    present = [flag for flag in KERNEL_FLAGS if flag in flags]
    return f"{name or 'unknown CPU'} ({' '.join(present) or 'no listed flags'})"


def resolve_precision(setting: Union[str, torch.dtype], device: torch.device) -> torch.dtype:
    """The compute dtype for ``setting`` on ``device``; a choice that would be slower is refused.

    ``auto``: bfloat16 on a CPU with native bfloat16, float16 on CUDA, float32 otherwise.
    """
    if isinstance(setting, torch.dtype):
        names = {dtype: name for name, dtype in PRECISION_DTYPES.items()}
        if setting not in names:
            raise InputError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {setting}")
        setting = names[setting]
    if setting not in PRECISION_CHOICES:
        raise InputError(f"unknown precision {setting!r}; expected one of {', '.join(PRECISION_CHOICES)}")
    cuda = device.type == "cuda"
    if setting == "auto":
        if cuda:
            return torch.float16
        return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bfloat16() else torch.float32
    if setting == "fp16" and not cuda:  # advise only what this CPU runs fast
        instead = "--precision bf16 or auto" if cpu_has_native_bfloat16() else "--precision fp32 (this CPU has no native bfloat16)"
        raise InputError("--precision fp16 needs a CUDA device (half precision is slower and less accurate on "
                         f"the CPU); use {instead}, or --device cuda")
    if setting == "bf16":
        if cuda and not torch.cuda.is_bf16_supported():
            raise InputError("--precision bf16: this GPU has no bfloat16 support; use --precision fp16")
        if device.type == "cpu" and not cpu_has_native_bfloat16():
            raise InputError("--precision bf16 needs a CPU with native bfloat16 (avx512_bf16 or AMX); on this CPU "
                             "it would be slower than float32: use --precision fp32 or auto")
    return PRECISION_DTYPES[setting]
