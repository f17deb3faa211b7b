"""Reading an ``activation=`` key: Darknet's names, strictly (an unknown name is an error).

Darknet's get_activation prints a message and silently uses relu for a name it does not know
(``activation=leakey`` trains a relu network); here it is a CfgError at the key's line that lists
the valid names.
"""
from ..kernels.activations import ACTIVATIONS, NAMES


def parse_activation(opts, key="activation", default="logistic"):
    """The activation code of ``opts[key]`` (``default`` when absent): one of ``ACTIVATIONS``' values."""
    name = opts.str(key, default)
    if name not in ACTIVATIONS:
        raise opts.error(f"{key}={name} is not an activation; valid names: {', '.join(sorted(ACTIVATIONS))}",
                         key)
    return ACTIVATIONS[name]


def activation_name(code):
    return NAMES[code]


__all__ = ["parse_activation", "activation_name", "ACTIVATIONS"]
