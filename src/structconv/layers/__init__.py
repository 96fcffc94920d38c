"""Keras layers: N-dimensional convolution and transposed convolution, with fixed-rank aliases."""

from structconv.layers.aperture import Aperture
from structconv.layers.complex_activation import ComplexActivation
from structconv.layers.complex_batch_normalization import ComplexBatchNormalization
from structconv.layers.complex_conv_nd import ComplexConv1D, ComplexConv2D, ComplexConv3D, ComplexConvND
from structconv.layers.complex_conv_nd_transpose import (
    ComplexConv1DTranspose,
    ComplexConv2DTranspose,
    ComplexConv3DTranspose,
    ComplexConvNDTranspose,
)
from structconv.layers.complex_dense import ComplexDense
from structconv.layers.complex_dropout import ComplexDropout
from structconv.layers.complex_layer_normalization import ComplexLayerNormalization
from structconv.layers.complex_pooling import (
    ComplexAveragePooling,
    ComplexAveragePooling1D,
    ComplexAveragePooling2D,
    ComplexAveragePooling3D,
    ComplexMaxPooling,
    ComplexMaxPooling1D,
    ComplexMaxPooling2D,
    ComplexMaxPooling3D,
)
from structconv.layers.conv_aliases import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    Conv4D,
    Conv4DTranspose,
)
from structconv.layers.conv_nd import ConvND
from structconv.layers.conv_nd_transpose import ConvNDTranspose
from structconv.layers.free_space_propagation import FreeSpacePropagation
from structconv.layers.intensity import Intensity
from structconv.layers.mod_relu import ModReLU
from structconv.layers.phase_modulation import PhaseModulation
from structconv.layers.thin_lens import ThinLens

__all__ = [
    "ComplexConv1D",
    "ComplexConv2D",
    "ComplexConv3D",
    "ComplexConvND",
    "Intensity",
    "PhaseModulation",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Conv4D",
    "Conv4DTranspose",
    "ConvND",
    "ConvNDTranspose",
    # optics (issue 17)
    "Aperture",
    "FreeSpacePropagation",
    "ThinLens",
    # complex networks (issue 17)
    "ComplexActivation",
    "ComplexAveragePooling",
    "ComplexAveragePooling1D",
    "ComplexAveragePooling2D",
    "ComplexAveragePooling3D",
    "ComplexBatchNormalization",
    "ComplexConv1DTranspose",
    "ComplexConv2DTranspose",
    "ComplexConv3DTranspose",
    "ComplexConvNDTranspose",
    "ComplexDense",
    "ComplexDropout",
    "ComplexLayerNormalization",
    "ComplexMaxPooling",
    "ComplexMaxPooling1D",
    "ComplexMaxPooling2D",
    "ComplexMaxPooling3D",
    "ModReLU",
]
