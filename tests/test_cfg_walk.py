"""tools/cfg_walk.py: walks a folder of cfgs written here (one good, one bad) and reports each."""
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "cfg_walk.py")

GOOD = """[net]
batch=64
subdivisions=2
width=8
height=8
channels=3

[convolutional]
filters=4
size=3
pad=1
activation=leaky

[maxpool]
size=2
stride=2
"""
BAD = """[net]
batch=1
width=8
height=8
channels=3

[convolutional]
filters=4
size=3
activation=nosuch
"""


def load_tool():
    spec = importlib.util.spec_from_file_location("cfg_walk", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_folder(tmp_path):
    (tmp_path / "good.cfg").write_text(GOOD)
    (tmp_path / "bad.cfg").write_text(BAD)
    (tmp_path / "notes.txt").write_text("not a cfg")
    return tmp_path


def test_walk_reports_each_cfg_with_its_reason(tmp_path):
    tool = load_tool()
    results = tool.walk_cfgs([str(write_folder(tmp_path))], forward=True)
    by_name = {os.path.basename(r.path): r for r in results}
    assert sorted(by_name) == ["bad.cfg", "good.cfg"]
    good, bad = by_name["good.cfg"], by_name["bad.cfg"]
    assert good.ok and good.forward and good.layers == 2
    assert not bad.loaded and bad.forward is None
    assert bad.reason.startswith(f"{bad.path}:10 [convolutional]: activation=nosuch is not an activation")
    lines = tool.summary_lines(results, forward=True)
    assert lines[:2] == ["loaded 1/2", "forward 1/2"]
    assert lines[2] == "failures by reason:"
    assert lines[3].split()[:2] == ["1", "activation=nosuch"] and "bad.cfg" not in lines[3]   # no place: counted by reason


def test_command_line_exit_status_and_one_line_per_cfg(tmp_path):
    folder = write_folder(tmp_path)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, TOOL, str(folder), "--forward"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 1, p.stderr
    out = p.stdout.splitlines()
    assert out[0].startswith("FAIL  ") and "bad.cfg  [load] " in out[0]
    assert out[1].startswith("OK    ") and "good.cfg  (2 layers" in out[1] and "forward ok" in out[1]
    assert "loaded 1/2" in out and "forward 1/2" in out
    os.remove(folder / "bad.cfg")
    p = subprocess.run([sys.executable, TOOL, str(folder)], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0 and "loaded 1/1" in p.stdout


def test_a_bug_is_named_as_such(tmp_path, monkeypatch):
    tool = load_tool()
    (tmp_path / "good.cfg").write_text(GOOD)
    import darknet_py.summary

    def broken(net):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(darknet_py.summary, "summary_rows", broken)
    (result,) = tool.walk_cfgs([str(tmp_path)])
    assert not result.ok and result.reason.startswith("BUG ZeroDivisionError") and result.reason.endswith("boom")


def test_timeout_runs_each_cfg_in_its_own_process(tmp_path):
    """--timeout: the same results from child processes, and a cfg over the limit fails alone."""
    tool = load_tool()
    folder = str(write_folder(tmp_path))
    results = {os.path.basename(r.path): r for r in tool.walk_cfgs([folder], forward=True, timeout=600)}
    assert results["good.cfg"].ok and results["good.cfg"].forward and results["good.cfg"].layers == 2
    assert not results["bad.cfg"].loaded and "activation=nosuch is not an activation" in results["bad.cfg"].reason
    (slow,) = tool.walk_cfgs([str(tmp_path / "good.cfg")], forward=True, timeout=0.01)
    assert not slow.ok and slow.forward is False and slow.reason == "timed out after 0.01 s"
