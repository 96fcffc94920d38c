"""Capping a framework's threads, for calibrating and benchmarking as another machine would run."""

import os


def limit_threads(threads):
    """Caps the threads of every framework at `threads` (0 or None: their defaults). Call before Keras's
    backend has run anything (XLA reads its flags when its client starts)."""
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    multi = "false" if threads == 1 else "true"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={multi}"
                               f" intra_op_parallelism_threads={threads}")
    import keras

    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)
    elif keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
