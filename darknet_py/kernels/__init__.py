"""@njit kernels on flat NCHW arrays. They take explicit sizes, never validate and never allocate."""
from . import _jit  # noqa: F401  (configures numba before any kernel module imports it)
