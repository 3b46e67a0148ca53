"""utils.heap.keep_freed_memory: a freed 64 MB block is reused, not faulted in again page by page.

Run in a process of its own: the setting is process-wide and would outlive the test here.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# utils.heap loaded from its file: the utils package would import torch, seconds of start-up.
_PROBE = """
import ctypes, importlib.util, json, resource
spec = importlib.util.spec_from_file_location("heap", "utils/heap.py")
heap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(heap)
keep_freed_memory = heap.keep_freed_memory
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, (ctypes.c_void_p,)
def faults_of_a_fresh_block(size=64 << 20):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    libc.free(block)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = [faults_of_a_fresh_block() for _ in range(2)]
took = keep_freed_memory()
kept = [faults_of_a_fresh_block() for _ in range(3)]
print(json.dumps(dict(default=default, took=took, kept=kept)))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_freed_large_block_is_reused_instead_of_faulted_in_again():
    result = json.loads(subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)
    pages = (64 << 20) // 4096
    assert all(faults > pages * 0.9 for faults in result["default"]), result  # each 64 MB block arrives fresh
    assert result["took"] is True
    assert all(faults < pages * 0.01 for faults in result["kept"][1:]), result  # the first block is reused
