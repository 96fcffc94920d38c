"""LoRA (low-rank adaptation) for the structconv convolution layers, with Keras's API and behaviour.

As in `keras.layers.Conv2D`: `lora_rank=` / `lora_alpha=` arguments or `layer.enable_lora(rank)` on a built
layer freeze the base kernel and add two float32 variables, `lora_kernel_a` of shape
`kernel.shape[:-1] + (rank,)` and `lora_kernel_b` of shape `(rank, kernel.shape[-1])`; the layer convolves
with `kernel + (lora_alpha / rank) * lora_kernel_a @ lora_kernel_b`, and saves that merged kernel in place of
the base one (a saved LoRA layer loads into a plain one and back).

On a layer with a `kernel_parametrization`, the update is added to the free variable, before the
parametrization: the constraint still holds exactly while fine-tuning (a ZeroSum kernel stays zero-sum, a
masked one keeps its zeros). A `Mask`'s free variable holds only the free entries (one axis): there the
update has the kernel's shape, as above, and only its free entries are used. A complex layer's update is a
complex low-rank product over its real view `(..., in, filters, 2)`: `lora_kernel_a` `(..., in, rank, 2)`,
`lora_kernel_b` `(rank, filters, 2)`.
"""

import keras
from keras import ops

from structconv.errors import invalid_argument


def check_lora_rank(name, value):
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise invalid_argument(name, value, "None or an int >= 1")


def _complex_matmul(a, b):
    """The product of two complex matrices held as real views (real and imaginary parts on the last axis)."""
    real = ops.matmul(a[..., 0], b[..., 0]) - ops.matmul(a[..., 1], b[..., 1])
    imag = ops.matmul(a[..., 0], b[..., 1]) + ops.matmul(a[..., 1], b[..., 0])
    return ops.stack([real, imag], axis=-1)


class LowRankAdaptation:
    """Mixed into `BaseConvND`: the LoRA variables, their update of the base variable, saving."""

    def _init_lora(self, lora_rank, lora_alpha):
        check_lora_rank("lora_rank", lora_rank)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else lora_rank
        self.lora_enabled = False

    def _lora_base(self):
        """The variable LoRA adapts: the kernel, or the free variable of a parametrized kernel."""
        return self._kernel_weight.variable

    def _lora_update_shape(self):
        """The low-rank product's shape: the base variable's, or the kernel's for a Mask's free entries."""
        base = tuple(self._lora_base().shape)
        return base if len(base) > 1 else tuple(self.kernel_parametrization.kernel_shape)

    def _lora_is_complex(self, shape):
        return len(shape) == self.rank + 3  # the real view (*kernel_size, in, filters, 2)

    def enable_lora(self, rank, lora_alpha=None, a_initializer="he_uniform", b_initializer="zeros"):
        """Freezes the base kernel and adds the trainable low-rank update (see the module docstring).

        Args:
            rank: int >= 1, the rank of the update.
            lora_alpha: the update is scaled by `lora_alpha / rank` (default: `rank`, a scale of 1).
            a_initializer, b_initializer: initializers of `lora_kernel_a` and `lora_kernel_b` (with
                `lora_kernel_b` zero, the layer starts out unchanged).
        """
        if self.kernel_constraint is not None:
            raise invalid_argument(
                "kernel_constraint", self.kernel_constraint,
                "None to enable LoRA (as in Keras; a kernel_parametrization holds with LoRA, exactly)",
            )
        if not self.built:
            raise ValueError("Cannot enable LoRA on a layer that is not built yet: build it first.")
        if self.lora_enabled:
            raise ValueError("LoRA is already enabled on this layer: it can be enabled only once.")
        check_lora_rank("rank", rank)
        shape = self._lora_update_shape()
        self._lora_complex = self._lora_is_complex(shape)
        if self._lora_complex:
            a_shape, b_shape = (*shape[:-2], rank, 2), (rank, shape[-2], 2)
        else:
            a_shape, b_shape = (*shape[:-1], rank), (rank, shape[-1])
        # A parametrized kernel's regularizer acts on the effective kernel (in `call`), LoRA included.
        regularizer = self.kernel_regularizer if self.kernel_parametrization is None else None
        self._tracker.unlock()
        # float32, as Keras: no underflow or overflow of the update under mixed precision.
        self.lora_kernel_a = self.add_weight(
            name="lora_kernel_a", shape=a_shape, initializer=keras.initializers.get(a_initializer),
            dtype="float32", regularizer=regularizer,
        )
        self.lora_kernel_b = self.add_weight(
            name="lora_kernel_b", shape=b_shape, initializer=keras.initializers.get(b_initializer),
            dtype="float32", regularizer=regularizer,
        )
        self._lora_base().trainable = False
        self._tracker.lock()
        self.lora_enabled = True
        self.lora_rank = rank
        self.lora_alpha = lora_alpha if lora_alpha is not None else rank

    def _lora_update(self):
        """`(lora_alpha / rank) * a @ b`, in the base variable's layout."""
        a, b = self.lora_kernel_a, self.lora_kernel_b
        product = _complex_matmul(a, b) if self._lora_complex else ops.matmul(a, b)
        update = (self.lora_alpha / self.lora_rank) * product
        if len(self._lora_base().shape) == 1:  # a Mask's free entries: the update's entries at them
            update = self.kernel_parametrization.right_inverse(update)
        return update

    def _lora_merged_base(self):
        """The base variable with the update added (float32 when the update is)."""
        return ops.add(self._lora_base(), self._lora_update())

    def save_own_variables(self, store):
        if not self.lora_enabled:
            return super().save_own_variables(store)
        # As Keras: the merged kernel (or free variable) in the base's place, then the bias.
        targets = [self._lora_merged_base()] + ([self.bias] if self.use_bias else [])
        for index, value in enumerate(targets):
            store[str(index)] = ops.convert_to_numpy(ops.cast(value, self._lora_base().dtype))

    def load_own_variables(self, store):
        if not self.lora_enabled:
            return super().load_own_variables(store)
        targets = [self._lora_base()] + ([self.bias] if self.use_bias else [])
        if len(store.keys()) != len(targets):
            raise ValueError(
                f"Layer {self.name!r} expects {len(targets)} variables (the merged kernel and the bias), "
                f"but received {len(store.keys())}."
            )
        for index, variable in enumerate(targets):
            variable.assign(store[str(index)])
        # As Keras: the merged kernel now holds the update.
        self.lora_kernel_a.assign(ops.zeros(self.lora_kernel_a.shape))
        self.lora_kernel_b.assign(ops.zeros(self.lora_kernel_b.shape))

    def _lora_config(self):
        return {"lora_rank": self.lora_rank, "lora_alpha": self.lora_alpha} if self.lora_rank else {}
