"""Writing files so that nothing the user had is lost: temp file, fsync, atomic rename."""
import os
import stat
import tempfile


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    If anything fails before the rename, the temporary file is removed and ``path`` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        _keep_mode(fd, path)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _keep_mode(fd, path):
    """Give the temp file (mkstemp: 0600) the old file's mode, or the umask's default for a new file,
    so that replacing a file does not make it unreadable to the others who could read it."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        os.fchmod(fd, mode)
    except (OSError, AttributeError):   # best effort (Windows has no fchmod)
        pass


def _fsync_folder(folder):
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
