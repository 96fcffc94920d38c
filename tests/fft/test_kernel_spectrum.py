"""`ops.kernel_spectrum` against the DFT written out in NumPy: the kernel's taps at arbitrary positions,
every axis transformed by `exp(-2 pi i p f / L)`, on the active backend, complex and on real planes, with
groups, transposed kernels, the backend's axis order and the full or half last axis."""

import numpy as np
import pytest
from conftest import tensor
from keras import ops

from structconv.ops import kernel_spectrum

TAPS = (3, 2, 4, 2)
LENGTHS = (7, 8, 9, 6)


def _positions(rank):
    """Tap positions that are neither in order nor contiguous (as a dilated, flipped, wrapped kernel's)."""
    return [np.array([(5 * t + 1) % length for t in range(taps)]) for taps, length in
            zip(TAPS[:rank], LENGTHS[:rank])]


def _reference(kernel, positions, half, transposed):
    """`(in, out, *frequencies)` of `kernel` `(*taps, in, out)` (`(*taps, out, in)` when `transposed`) by
    one NumPy tensor product per axis; with `half`, the last axis keeps `L // 2 + 1` frequencies."""
    rank = len(positions)
    k = np.swapaxes(kernel, rank, rank + 1) if transposed else kernel
    for axis in range(rank):
        length = LENGTHS[axis]
        matrix = np.exp(-2j * np.pi * np.outer(positions[axis], np.arange(length)) / length)
        if half and axis == rank - 1:
            matrix = matrix[:, : length // 2 + 1]
        k = np.tensordot(k, matrix, axes=([0], [0]))  # the taps leave from the front, frequencies go last
    return k


@pytest.mark.parametrize("layout", ["channel-major", "frequency-major"])
@pytest.mark.parametrize("rank, groups, transposed",
                         [(1, 1, False), (2, 2, False), (3, 1, True), (4, 1, False), (3, 3, False)])
def test_complex_spectrum_matches_the_numpy_dft(rank, groups, transposed, layout):
    rng = np.random.default_rng(rank)
    shape = (*TAPS[:rank], 6, 4) if transposed else (*TAPS[:rank], 4 // groups, 6)
    kernel = rng.standard_normal(shape)
    positions = _positions(rank)
    got = ops.convert_to_numpy(kernel_spectrum.dft_kernel_spectrum(
        tensor(kernel, "float64"), positions, LENGTHS[:rank], "float64", layout,
        1 if transposed else groups, transposed))
    expected = _reference(kernel, positions, half=True, transposed=transposed)  # (in / groups, out, *f)
    if layout == "frequency-major":  # (*f, groups, in / groups, out / groups)
        groups = 1 if transposed else groups
        per_group, filters = expected.shape[:2]
        expected = expected.reshape(per_group, groups, filters // groups, *expected.shape[2:])
        expected = np.transpose(expected, (*range(3, 3 + rank), 1, 0, 2))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("rank, half, order", [(1, True, None), (2, True, None), (3, False, (1, 2, 0)),
                                               (4, True, None), (4, False, (1, 2, 3, 0))])
def test_planes_match_the_numpy_dft_in_the_asked_axis_order(rank, half, order):
    rng = np.random.default_rng(10 + rank)
    kernel = rng.standard_normal((*TAPS[:rank], 3, 5))
    positions = _positions(rank)
    planes = ops.convert_to_numpy(kernel_spectrum.dft_kernel_planes(
        tensor(kernel, "float64"), positions, LENGTHS[:rank], "float64", order=order, half=half))
    order = tuple(range(rank)) if order is None else order
    expected = _reference(kernel, positions, half, transposed=False)  # (in, out, *f)
    # (2, f[order[0]], in, out, f[order[1]], ...)
    expected = np.transpose(expected, (2 + order[0], 0, 1, *[2 + a for a in order[1:]]))
    np.testing.assert_allclose(planes[0] + 1j * planes[1], expected, rtol=1e-10, atol=1e-10)
