"""Registry and plugins: the README's "Writing a new layer" example, installed as a real package."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import darknet_py
from darknet_py import CfgError, DarknetError, Layer, register_layer
from darknet_py.registry import layer_class, unregister_layer

REPO = Path(__file__).resolve().parents[1]

CFG = """
[net]
batch=2
width=3
height=2
channels=4

[channel_scale]
init=0.5

[cscale]
"""


def readme_example_files():
    """{relative path: content} of every code block marked <!-- example-file: PATH --> in the README."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"<!-- example-file: (\S+) -->\s*```\w*\n(.*?)```", text, re.S)
    assert blocks, "the README lost its worked layer example"
    return dict(blocks)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The README's plugin package, pip-installed into a private site folder."""
    root = tmp_path_factory.mktemp("plugin")
    for rel, content in readme_example_files().items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(root / "channel_scale_plugin")], check=True)
    (root / "net.cfg").write_text(CFG)
    return site, root / "net.cfg"


def run_with_plugin(site, code, *args):
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("DARKNET_PY_NO_PLUGINS", None)
    return subprocess.run([sys.executable, *args] if not code else [sys.executable, "-c", code, *args],
                          capture_output=True, text=True, env=env)


def test_plugin_layer_is_found_by_load_network(plugin_site):
    site, cfg = plugin_site
    code = textwrap.dedent("""
        import sys, numpy as np, darknet_py
        net = darknet_py.load_network(sys.argv[1])
        y = net.forward(np.ones((2, 4, 2, 3), np.float32))
        print([l.type for l in net.layers], float(y.max()))
    """)
    res = run_with_plugin(site, code, str(cfg))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['channel_scale', 'channel_scale'] 0.5"  # 1 * 0.5 * 1.0


def test_plugin_layer_is_listed_by_cli(plugin_site):
    site, _ = plugin_site
    res = run_with_plugin(site, None, "-m", "darknet_py", "layers")
    assert res.returncode == 0, res.stderr
    assert "[channel_scale] (aliases: cscale)  channel_scale" in res.stdout
    assert "init" in res.stdout


def test_plugins_are_not_loaded_when_disabled(plugin_site):
    site, cfg = plugin_site
    env = dict(os.environ, PYTHONPATH=str(site), DARKNET_PY_NO_PLUGINS="1")
    res = subprocess.run([sys.executable, "-m", "darknet_py", "summary", str(cfg)], capture_output=True,
                         text=True, env=env)
    assert res.returncode == 2 and "unknown section type [channel_scale]" in res.stderr


def test_readme_example_as_module_passes_gradient_check():
    from gradcheck import check_gradients
    namespace = {"__name__": "readme_channel_scale"}
    exec(compile(readme_example_files()["channel_scale_plugin/channel_scale.py"], "channel_scale.py", "exec"),
         namespace)
    try:
        errors = check_gradients(CFG)
        assert set(errors) == {"input", "layer 0 [channel_scale] scales", "layer 1 [channel_scale] scales"}
    finally:
        unregister_layer("channel_scale")


def test_registering_a_name_twice_is_an_error():
    @register_layer("twice_test")
    class First(Layer):
        @classmethod
        def from_options(cls, opts, in_shape, net):
            return cls(net.batch, in_shape, in_shape)

        def forward(self, net):
            pass

        def backward(self, net):
            pass
    try:
        with pytest.raises(DarknetError, match="already registered"):
            register_layer("other_name", "twice_test")(type("Second", (First,), {}))
        assert layer_class("twice_test") is First
        with pytest.raises(CfgError):
            layer_class("other_name")       # a failed registration registers nothing
    finally:
        unregister_layer("twice_test")


def test_builtin_name_cannot_be_taken():
    with pytest.raises(DarknetError, match="'l2norm' is already registered"):
        register_layer("l2norm")(type("Impostor", (darknet_py.layers.l2norm.L2Norm,), {}))


def test_class_without_forward_is_rejected():
    with pytest.raises(TypeError, match="must define forward"):
        register_layer("broken")(type("Broken", (), {"from_options": classmethod(lambda c: c),
                                                     "backward": lambda s, n: None}))


def test_unknown_type_lists_known_types():
    with pytest.raises(CfgError, match=r"unknown section type \[nope\]; known types: .*l2norm") as err:
        layer_class("nope", "a.cfg", 7)
    assert str(err.value).startswith("a.cfg:7 [nope]")


@pytest.mark.parametrize("name", ["iseg"])
def test_darknet_types_not_implemented_say_so(name):
    with pytest.raises(CfgError, match=rf"\[{name}\] is a Darknet layer type that darknet_py does not implement"):
        layer_class(name, "a.cfg", 3)
