"""Nothing lost (issue #5): a save that fails at any point leaves the previous file intact and
loadable, and no temporary file behind."""
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from darknet_py import CfgWarning, WeightsError, build_network
from darknet_py import fileio
from darknet_py.cfg import parse_cfg

CFG = "[net]\nbatch=1\nwidth=4\nheight=4\nchannels=3\n[convolutional]\nfilters=4\nsize=3\npad=1\n" \
      "batch_normalize=1\n[connected]\noutput=3\n"


def make_net(value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        net = build_network(parse_cfg(CFG, "s.cfg"), "s.cfg", max_memory=2**24)
    for layer in net.layers:
        for a in layer.weight_arrays():
            a[:] = value
    net.seen = int(value * 100)
    return net


@pytest.fixture
def saved(tmp_path):
    """(path, bytes) of a good file written by a network of 1.0s."""
    path = tmp_path / "model.weights"
    make_net(1.0).save_weights(path)
    return path, path.read_bytes()


def assert_old_file_intact(path, old_bytes):
    assert path.read_bytes() == old_bytes
    net = make_net(0.0)
    net.load_weights(path)                            # still loadable, with the old values
    assert net.seen == 100 and all(np.all(a == 1.0) for l in net.layers for a in l.weight_arrays())
    leftovers = [p.name for p in path.parent.iterdir() if p.name != path.name]
    assert not leftovers, f"temporary files left behind: {leftovers}"


class FailingFile:
    """Wraps the temp file; raises after ``limit`` bytes were written (disk full, killed, ...)."""

    def __init__(self, f, limit, exc):
        self.f, self.limit, self.exc, self.written = f, limit, exc, 0

    def write(self, b):
        if self.written + len(b) > self.limit:
            self.f.write(b[: self.limit - self.written])
            self.written = self.limit
            raise self.exc
        self.written += len(b)
        return self.f.write(b)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


@pytest.mark.parametrize("limit", [0, 1, 19, 20, 21, 100, 500])
@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
def test_a_save_killed_halfway_leaves_the_old_file(saved, monkeypatch, limit, exc):
    path, old = saved
    real_fdopen = os.fdopen
    monkeypatch.setattr(fileio.os, "fdopen", lambda fd, mode: FailingFile(real_fdopen(fd, mode), limit, exc))
    expected = WeightsError if isinstance(exc, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as info:
        make_net(2.0).save_weights(path)
    if expected is WeightsError:
        assert "No space left" in str(info.value) and "unchanged" in str(info.value)
    monkeypatch.undo()
    assert_old_file_intact(path, old)


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_failure_at_fsync_or_rename_leaves_the_old_file(saved, monkeypatch, step):
    path, old = saved

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(fileio.os, step, fail)
    with pytest.raises(WeightsError, match="Input/output error"):
        make_net(2.0).save_weights(path)
    monkeypatch.undo()
    assert_old_file_intact(path, old)


def test_a_process_killed_mid_save_leaves_the_old_file(saved, tmp_path):
    """A real death (os._exit: no cleanup runs) halfway through: the old file is still whole. Only the
    hidden temporary file may remain, never a half-written model.weights."""
    path, old = saved
    script = textwrap.dedent(f"""
        import os, sys, warnings
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_atomic_save import make_net
        from darknet_py import fileio
        real = os.fdopen
        class Dying:
            def __init__(self, f): self.f = f
            def write(self, b):
                self.f.write(b[: len(b) // 2]); self.f.flush(); os._exit(9)
            def __getattr__(self, n): return getattr(self.f, n)
            def __enter__(self): return self
            def __exit__(self, *e): return self.f.__exit__(*e)
        fileio.os.fdopen = lambda fd, mode: Dying(real(fd, mode))
        make_net(2.0).save_weights({str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 9, result.stderr
    assert path.read_bytes() == old
    leftovers = [p for p in tmp_path.iterdir() if p.name != path.name]
    assert all(p.name.startswith(".model.weights.") and p.name.endswith(".tmp") for p in leftovers)
    for p in leftovers:
        p.unlink()
    assert_old_file_intact(path, old)


def test_a_successful_save_replaces_the_file_and_keeps_its_mode(saved):
    path, _ = saved
    os.chmod(path, 0o640)
    make_net(2.0).save_weights(path)
    assert (path.stat().st_mode & 0o777) == 0o640
    net = make_net(0.0)
    net.load_weights(path)
    assert net.seen == 200 and all(np.all(a == 2.0) for l in net.layers for a in l.weight_arrays())
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_new_file_gets_the_umask_default_mode_not_0600(tmp_path):
    umask = os.umask(0o022)
    try:
        make_net(1.0).save_weights(tmp_path / "new.weights")
    finally:
        os.umask(umask)
    assert ((tmp_path / "new.weights").stat().st_mode & 0o777) == 0o644


def test_saving_where_it_cannot_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="No such file"):
        make_net(1.0).save_weights(tmp_path / "no" / "such" / "dir.weights")
    with pytest.raises(WeightsError):
        make_net(1.0).save_weights(tmp_path)                       # a directory
    assert list(tmp_path.iterdir()) == []
