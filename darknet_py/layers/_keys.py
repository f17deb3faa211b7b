"""Cfg keys that a layer reads only to say they change nothing here (one CfgWarning at their line)."""
from ..cfg import warn


def warn_no_effect(opts, key, reason):
    """Mark ``key`` read and, when the section has it, warn once at its line that it has no effect."""
    if opts.has(key):
        value = opts.raw(key)
        warn(f"{key}={value} has no effect here: {reason}", opts.section.path,
             opts.section.options[key][1], opts.section.type)
    else:
        opts.used.add(key)
