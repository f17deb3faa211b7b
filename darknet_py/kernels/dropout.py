"""Dropout kernels: ``rand`` holds the uniform draws of the last training forward (Darknet's l.rand);
a unit is dropped where rand < probability and kept units are scaled by 1/(1-probability)."""
from ._jit import parallel_kernel, prange


@parallel_kernel
def dropout_forward(x, y, rand, probability, scale):
    """y = 0 where rand < probability, else x * scale."""
    for i in prange(x.size):
        y[i] = 0.0 if rand[i] < probability else x[i] * scale


@parallel_kernel
def dropout_backward(rand, dy, dx, probability, scale, darknet_in_place):
    """dx += dy * mask * scale. With darknet_in_place, Darknet's shared-buffer version instead:
    dx = (dx + dy) * mask * scale (its delta IS the previous layer's, scaled in place)."""
    for i in prange(dy.size):
        m = 0.0 if rand[i] < probability else scale
        if darknet_in_place:
            dx[i] = (dx[i] + dy[i]) * m
        else:
            dx[i] += dy[i] * m
