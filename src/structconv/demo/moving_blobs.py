"""A space-time data set: a Gaussian blob moving through a 3-D volume; the label is its direction.

Each sample is a 4-D volume `(time, depth, height, width)` with one channel. The blob starts at a
random position, moves at a random speed along one of six directions, and Gaussian noise is added.
The direction is only visible across time steps, so a classifier has to convolve over all four
axes.
"""

import numpy as np

# Label -> direction of motion; the volume's axes are 0: depth (z), 1: height (y), 2: width (x).
DIRECTIONS = ("+x", "-x", "+y", "-y", "+z", "-z")
_MOTION = {"x": 2, "y": 1, "z": 0}


def moving_blobs(count, *, frames=6, size=10, noise=0.15, seed=0):
    """Returns float32 inputs `(count, frames, size, size, size, 1)` and int32 labels `(count,)`.

    >>> inputs, labels = moving_blobs(4, frames=5, size=8)
    >>> inputs.shape, labels.shape
    ((4, 5, 8, 8, 8, 1), (4,))
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(DIRECTIONS), count)
    speed = rng.uniform(0.7, 1.2, count)
    width = rng.uniform(0.9, 1.4, count)
    travel = speed * (frames - 1)
    # Centres start anywhere that keeps the whole path at least one voxel inside the volume.
    start = rng.uniform(1.0, size - 2.0, (count, 3))
    velocity = np.zeros((count, 3))
    for label, name in enumerate(DIRECTIONS):
        chosen = labels == label
        axis, sign = _MOTION[name[1]], 1.0 if name[0] == "+" else -1.0
        low = np.where(sign > 0, 1.0, 1.0 + travel[chosen])
        start[chosen, axis] = low + rng.uniform(0, 1, chosen.sum()) * (size - 3.0 - travel[chosen])
        velocity[chosen, axis] = sign * speed[chosen]
    time = np.arange(frames)
    centres = start[:, None, :] + velocity[:, None, :] * time[None, :, None]  # (count, frames, 3)
    grid = np.arange(size, dtype=np.float64)
    # Separable Gaussian: one factor per axis, broadcast to (count, frames, depth, height, width).
    factors = [
        np.exp(-((grid - centres[..., axis, None]) ** 2) / (2 * width[:, None, None] ** 2))
        for axis in range(3)
    ]
    depth, height, width = factors
    volume = depth[..., :, None, None] * height[..., None, :, None] * width[..., None, None, :]
    volume += rng.normal(0.0, noise, volume.shape)
    return volume[..., None].astype("float32"), labels.astype("int32")
