"""Exceptions and warnings. Every user error is a DarknetError; the CLI prints it on one line."""


class DarknetError(Exception):
    """Base class of every error a user can cause with bad input (cfg, weights, arrays)."""


class CfgError(DarknetError):
    """A problem in a .cfg file, tied to its place: ``net.cfg:14 [route]: message``."""

    def __init__(self, message, path=None, line=None, section=None):
        self.message = message
        self.path = path
        self.line = line
        self.section = section
        super().__init__(str(self))

    def __str__(self):
        place = str(self.path or "<cfg>")
        if self.line is not None:
            place += f":{self.line}"
        if self.section:
            place += f" [{self.section}]"
        return f"{place}: {self.message}"


class WeightsError(DarknetError):
    """A .weights file that does not fit the network (size, header, content)."""

    def __init__(self, message, path=None, offset=None):
        self.message = message
        self.path = path
        self.offset = offset
        super().__init__(str(self))

    def __str__(self):
        place = str(self.path or "<weights>")
        if self.offset is not None:
            place += f" @byte {self.offset}"
        return f"{place}: {self.message}"


class NumericsError(DarknetError):
    """NaN or Inf where the numerics check (``check_numerics=True``) looks: input, a layer's output or delta."""


class CfgWarning(UserWarning):
    """Something in a cfg that Darknet accepts but is probably a mistake (unused or duplicate key)."""
