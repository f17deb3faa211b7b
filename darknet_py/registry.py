"""Layer registry: ``@register_layer("convolutional", "conv")`` maps cfg section types to classes.

Third-party packages add layer types through the entry-point group ``darknet_py.layers``: each entry
point names a module (or object) whose import registers its layers. ``DARKNET_PY_NO_PLUGINS=1`` keeps
a process hermetic (no plugin is imported).
"""
import importlib
import os
from importlib.metadata import entry_points

from .errors import CfgError, DarknetError

ENTRY_POINT_GROUP = "darknet_py.layers"
_LAYERS = {}            # section type or alias -> layer class
_loaded_plugins = set()  # entry point names already imported (load_plugins is idempotent)
_builtins_loaded = False
# Darknet section types not implemented here ([iseg] is a training-only loss): named as such
# rather than "unknown".
NOT_IMPLEMENTED = ("iseg",)


def register_layer(name, *aliases):
    """Class decorator: register ``cls`` under ``name`` and its aliases; returns the class unchanged.

    The class must define ``from_options(opts, in_shape, net)``, ``forward(net)`` and ``backward(net)``.
    Registering a name that is already taken is an error (no silent overwrite).
    """
    def decorate(cls):
        for method in ("from_options", "forward", "backward"):
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"layer class {cls.__name__} must define {method}()")
        names = (name,) + aliases
        for n in names:
            if n in _LAYERS and _LAYERS[n] is not cls:
                raise DarknetError(f"layer type '{n}' is already registered by "
                                   f"{_LAYERS[n].__module__}.{_LAYERS[n].__name__}")
        for n in names:
            _LAYERS[n] = cls
        cls.type = name
        cls.aliases = aliases
        return cls
    return decorate


def unregister_layer(name):
    """Remove a type and its aliases (for tests and interactive experiments)."""
    cls = _LAYERS.get(name)
    for n in [k for k, v in _LAYERS.items() if v is cls]:
        del _LAYERS[n]


def load_builtin_layers():
    global _builtins_loaded
    if not _builtins_loaded:
        importlib.import_module("darknet_py.layers")
        _builtins_loaded = True


def load_plugins():
    """Import every ``darknet_py.layers`` entry point not imported yet. Returns the names loaded."""
    if os.environ.get("DARKNET_PY_NO_PLUGINS") == "1":
        return []
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _loaded_plugins:
            continue
        _loaded_plugins.add(ep.name)
        ep.load()
        loaded.append(ep.name)
    return loaded


def registered_layers():
    """{type name: class} for every registered type (aliases folded into their class)."""
    load_builtin_layers()
    load_plugins()
    return {cls.type: cls for cls in _LAYERS.values()}


def layer_class(section_type, path=None, line=None):
    """The class registered for a section type, or a CfgError that lists the known types."""
    load_builtin_layers()
    if section_type not in _LAYERS:
        load_plugins()
    try:
        return _LAYERS[section_type]
    except KeyError:
        if section_type in NOT_IMPLEMENTED:
            raise CfgError(f"[{section_type}] is a Darknet layer type that darknet_py does not implement "
                           f"(not implemented: {', '.join(NOT_IMPLEMENTED)})", path, line, section_type) from None
        known = ", ".join(sorted(_LAYERS))
        raise CfgError(f"unknown section type [{section_type}]; known types: {known}",
                       path, line, section_type) from None
