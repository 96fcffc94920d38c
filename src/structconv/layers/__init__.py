"""Keras layers: N-dimensional convolution, transposed convolution, depthwise and separable
convolution, pooling, upsampling, padding and cropping, with fixed-rank aliases."""

# First: structconv registers its classes with Keras only once this package has loaded
# (`structconv._registration`), whichever of the two a program imports first.
from structconv import _registration  # noqa: I001

_registration.loading(__name__)
import keras  # noqa: F401, I001

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
from structconv.layers.depthwise_aliases import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    DepthwiseConv3D,
    DepthwiseConv4D,
    SeparableConv1D,
    SeparableConv2D,
    SeparableConv3D,
    SeparableConv4D,
)
from structconv.layers.depthwise_conv_nd import DepthwiseConvND
from structconv.layers.free_space_propagation import FreeSpacePropagation
from structconv.layers.global_pooling_nd import GlobalAveragePoolingND, GlobalMaxPoolingND
from structconv.layers.intensity import Intensity
from structconv.layers.mod_relu import ModReLU
from structconv.layers.phase_modulation import PhaseModulation
from structconv.layers.pooling_nd import AveragePoolingND, MaxPoolingND
from structconv.layers.resampling_nd import CroppingND, UpSamplingND, ZeroPaddingND
from structconv.layers.separable_conv_nd import SeparableConvND
from structconv.layers.spatial_aliases import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    AveragePooling4D,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Cropping4D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalAveragePooling4D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GlobalMaxPooling4D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    MaxPooling4D,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    UpSampling4D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
    ZeroPadding4D,
)
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
__all__ += [
    "AveragePoolingND",
    "CroppingND",
    "GlobalAveragePoolingND",
    "GlobalMaxPoolingND",
    "MaxPoolingND",
    "UpSamplingND",
    "ZeroPaddingND",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AveragePooling4D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Cropping4D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAveragePooling4D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalMaxPooling4D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "MaxPooling4D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "UpSampling4D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "ZeroPadding4D",
]
__all__ += ["DepthwiseConvND", "SeparableConvND"]
__all__ += [
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "DepthwiseConv3D",
    "DepthwiseConv4D",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConv3D",
    "SeparableConv4D",
]

_registration.loaded(__name__)
