"""Reading an ``activation=`` key: Darknet's names, strictly (an unknown name is an error).

Darknet's get_activation prints a message and silently uses relu for a name it does not know
(``activation=leakey`` trains a relu network); here it is a CfgError at the key's line that lists
the valid names.
"""
from ..kernels import activations as act
from ..kernels.activations import ACTIVATIONS, NAMES


def parse_activation(opts, key="activation", default="logistic", extended=False):
    """The activation code of ``opts[key]`` (``default`` when absent): one of ``ACTIVATIONS``' values.

    The codes of ``activations.EXTENDED`` (swish, mish, hard_mish, gelu, normalize_channels*) need the
    pre-activation input (or mix channels): only a layer that runs them through ``activate_ext`` /
    ``gradient_ext`` says ``extended=True``; elsewhere they are a CfgError, never a wrong gradient."""
    name = opts.str(key, default)
    if name not in ACTIVATIONS:
        raise opts.error(f"{key}={name} is not an activation; valid names: {', '.join(sorted(ACTIVATIONS))}",
                         key)
    code = ACTIVATIONS[name]
    if code in act.EXTENDED and not extended:
        raise opts.error(f"{key}={name} is not supported in [{opts.type}] yet (its gradient needs the "
                         f"pre-activation input, which this layer does not keep)", key)
    return code


def activation_name(code):
    return NAMES[code]


def fork_code(code, net, generic):
    """The code a layer runs for ``code`` under net's flavour. Under compat="alexeyab", the fork's CPU:
    relu6 has no case in activate() and gives 0 (f and f' = 0) everywhere; layers without their own
    kernels (``generic``: [activation], [scale_channels], [sam]) also get 0 for swish, mish, hard_mish
    and the normalize_channels family (whose gradient() aborts: ``activation.py``)."""
    if net.flavour != "alexeyab":
        return code
    if code == act.RELU6 or (generic and code in act.EXTENDED and code != act.GELU):
        return act.ZERO
    return code


def activate_ext(x, y, batch, channels, spatial, code):
    """y = f(x) for any code, x (batch, channels, spatial) flat being the kept pre-activation."""
    if code in act.CROSS_CHANNEL:
        act.activate_channels(x, y, batch, channels, spatial, code)
    else:
        act.activate_elementwise(x, y, x.size, code)


def gradient_ext(x, y, delta, batch, channels, spatial, code, fork):
    """delta *= f'(x) in place (the Jacobian for the normalize_channels family); ``fork``: the fork's
    formulas where they are not the gradient (gelu at y, normalize_channels*)."""
    if code in act.CROSS_CHANNEL:
        act.gradient_channels(x, y, delta, batch, channels, spatial, code, fork)
    else:
        act.gradient_elementwise(x, y, x.size, code, fork, delta)


__all__ = ["parse_activation", "activation_name", "ACTIVATIONS", "fork_code", "activate_ext", "gradient_ext"]
