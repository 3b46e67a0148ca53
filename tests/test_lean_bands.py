"""The lean inference path's band size per device (cache-sized on a CPU, a share of the free
memory on CUDA, so a layer there is usually one convolution), decided on the CPU."""
from models.lean_ops import BAND_ELEMENTS, band_elements


def test_cpu_bands_stay_cache_sized_and_gpu_bands_grow_with_free_memory():
    assert band_elements("cpu", None, 4) == BAND_ELEMENTS
    assert band_elements("cpu", 64 << 30, 4) == BAND_ELEMENTS  # the CPU path never changes
    assert band_elements("cpu", None, 2) == 2 * BAND_ELEMENTS  # bfloat16 bands hold the bytes of a float32 band
    # 1080p, batch 8, 96 channels at half resolution: 398 M elements. With 8 GB free a float16
    # layer is one band (1 G elements allowed) instead of ~95 bands of BAND_ELEMENTS.
    layer = 8 * 96 * 540 * 960
    assert band_elements("cuda", 8 << 30, 2) >= layer
    assert band_elements("cuda", 1 << 20, 2) == BAND_ELEMENTS  # a nearly full GPU keeps the lean bands
