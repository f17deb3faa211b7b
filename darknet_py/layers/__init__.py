"""Built-in layer types, one section type per module. Importing this package registers them all.

Modules are discovered, not listed, so adding a layer is adding a file: every module here except
``base`` and private ``_*`` helpers is imported and registers itself with ``@register_layer``.
"""
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
