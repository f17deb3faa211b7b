"""darknet_py: a mini Darknet in Python, compiled with Numba.

    >>> import darknet_py
    >>> net = darknet_py.load_network("cfg/l2norm.cfg")
    >>> y = net.forward(x)            # x: (batch, c, h, w) float32
    >>> dx = net.backward(dy)         # Darknet's sign: dy = -dL/dy
"""
from .errors import CfgError, CfgWarning, DarknetError, NumericsError, WeightsError
from .layers.base import Layer, MemoryLimitError, Option
from .network import Network, build_network, load_network, plan_network
from .registry import layer_class, load_plugins, register_layer, registered_layers

__version__ = "0.1.0"

__all__ = [
    "load_network", "plan_network", "build_network", "Network", "Layer", "Option", "register_layer", "registered_layers",
    "layer_class", "load_plugins", "DarknetError", "CfgError", "CfgWarning", "WeightsError", "NumericsError",
    "MemoryLimitError", "__version__",
]
