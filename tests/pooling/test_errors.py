"""Bad arguments to the pooling and resampling ops and layers raise `StructconvError` (a `ValueError`)
naming the argument and the value received, eagerly and on symbolic inputs."""

import keras
import numpy as np
import pytest

import structconv.layers as sl
from structconv import ops as sops
from structconv.errors import StructconvError

X4 = np.zeros((1, 4, 4, 4, 4, 2), "float32")


def _raises(argument, value):
    return pytest.raises(StructconvError, match=rf"`{argument}`.*{value}")


@pytest.mark.parametrize(
    "call, argument, value",
    [
        (lambda: sops.max_pool(X4, 0), "pool_size", "0"),
        (lambda: sops.max_pool(X4, (2, 2)), "pool_size", r"\(2, 2\)"),
        (lambda: sops.avg_pool(X4, 2, strides=-1), "strides", "-1"),
        (lambda: sops.avg_pool(X4, 2, padding="full"), "padding", "'full'"),
        (lambda: sops.max_pool(X4, 5), "pool_size", r"\(5, 5, 5, 5\)"),
        (lambda: sops.max_pool(X4, 2, data_format="NHWC"), "data_format", "'NHWC'"),
        (lambda: sops.global_max_pool(np.zeros((2, 3), "float32")), "inputs", r"\(2, 3\)"),
        (lambda: sops.upsample(X4, 0), "size", "0"),
        (lambda: sops.upsample(X4, 2, interpolation="cubic"), "interpolation", "'cubic'"),
        (lambda: sops.zero_pad(X4, -1), "padding", "-1"),
        (lambda: sops.zero_pad(X4, (1, 2)), "padding", r"\(1, 2\)"),
        (lambda: sops.crop(X4, 2), "cropping", "2"),
        (lambda: sops.crop(X4, ((0, 1), 0, (3, 1), 0)), "cropping", r"\(3, 1\)"),
    ],
)
def test_ops_reject(call, argument, value):
    with _raises(argument, value):
        call()


@pytest.mark.parametrize(
    "make, argument, value",
    [
        (lambda: sl.MaxPoolingND(2), "rank", "None"),
        (lambda: sl.MaxPoolingND(2, rank=0), "rank", "0"),
        (lambda: sl.MaxPooling2D((2, 2, 2)), "pool_size", r"\(2, 2, 2\)"),
        (lambda: sl.MaxPooling3D(2, rank=2), "rank", "2"),
        (lambda: sl.AveragePooling4D(2, padding="causal"), "padding", "'causal'"),
        (lambda: sl.GlobalMaxPoolingND(), "rank", "None"),
        (lambda: sl.GlobalAveragePooling2D(data_format="last"), "data_format", "'last'"),
        (lambda: sl.UpSampling4D(2, interpolation="area"), "interpolation", "'area'"),
        (lambda: sl.UpSamplingND((2, 0)), "size", r"\(2, 0\)"),
        (lambda: sl.ZeroPadding3D(((1, 1), (1,), (0, 0))), "padding", r"\(1,\)"),
        (lambda: sl.Cropping4D(-2), "cropping", "-2"),
    ],
)
def test_layers_reject_at_construction(make, argument, value):
    with _raises(argument, value):
        make()


def test_layers_reject_inputs_eagerly_and_symbolically():
    with _raises("pool_size", r"\(3, 3, 3, 3\)"):
        sl.MaxPooling4D(3)(np.zeros((1, 2, 4, 4, 4, 1), "float32"))
    with _raises("pool_size", r"\(3, 3, 3, 3\)"):
        sl.MaxPooling4D(3)(keras.Input((2, 4, 4, 4, 1)))
    with _raises("cropping", "2"):
        sl.Cropping4D(2)(keras.Input((4, 6, 6, 6, 1)))
    with pytest.raises(ValueError, match="ndim=6"):
        sl.MaxPooling4D(2)(np.zeros((1, 4, 4, 4, 1), "float32"))
