"""The memory guard (issue #5): a network whose buffers exceed the limit is refused before anything
large is allocated, with a MemoryLimitError (a CfgError) naming the section that did not fit."""
import time
import tracemalloc
import warnings

import numpy as np
import pytest

from darknet_py import CfgError, CfgWarning, DarknetError, MemoryLimitError, build_network, load_network
from darknet_py.cfg import parse_cfg
from darknet_py.layers.base import MemoryBudget, alloc, memory_budget
from darknet_py.network import default_memory_limit

HUGE_NET = "[net]\nbatch=1\nwidth=100000\nheight=100000\nchannels=3\n\n[l2norm]\n"


def build(text, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        return build_network(parse_cfg(text, "m.cfg"), "m.cfg", **kw)


def peak_bytes(fn):
    """(result or exception, peak bytes traced while fn ran): numpy reports its buffers to tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            fn()
            outcome = None
        except Exception as e:      # noqa: BLE001 - returned to the caller, which asserts on it
            outcome = e
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("max_memory", ["auto", 2**30])
def test_huge_input_fails_fast_at_net_without_allocating(max_memory):
    start = time.perf_counter()
    e, peak = peak_bytes(lambda: build(HUGE_NET, max_memory=max_memory))
    assert isinstance(e, MemoryLimitError) and isinstance(e, CfgError) and isinstance(e, DarknetError), e
    assert (e.path, e.line, e.section) == ("m.cfg", 1, "net"), str(e)
    assert "the network input needs 111.8 GiB more" in e.message and "max_memory" in e.message
    assert peak < 2**20, f"{peak} bytes allocated before refusing"
    assert time.perf_counter() - start < 5


def test_default_limit_is_a_fraction_of_physical_memory():
    limit = default_memory_limit()
    assert limit is None or 0 < limit < 2**60
    assert build("[net]\nwidth=2\nheight=2\nchannels=1\n[l2norm]\n").budget.limit == limit


def test_the_layer_that_does_not_fit_is_named_with_its_line():
    # input 32 KiB x2 (input, input_grad); layer 0 [maxpool] fits; layer 1 [l2norm] output/delta do not
    text = "[net]\nbatch=2\nwidth=32\nheight=32\nchannels=4\n[maxpool]\nsize=1\nstride=1\n[l2norm]\n"
    e, peak = peak_bytes(lambda: build(text, max_memory=200 * 2**10))
    assert isinstance(e, MemoryLimitError), e
    assert (e.line, e.section) == (9, "l2norm") and e.message.startswith("layer 1 needs"), str(e)
    assert "over the memory limit of 200.0 KiB" in e.message
    assert peak < 300 * 2**10


def test_budget_counts_every_buffer_and_a_build_under_the_limit_succeeds():
    text = "[net]\nbatch=2\nwidth=8\nheight=8\nchannels=4\n[maxpool]\nsize=2\nstride=2\n[l2norm]\n"
    net = build(text, max_memory=None)
    used = net.budget.used
    assert used == net.memory_bytes()
    assert build(text, max_memory=used).budget.used == used          # exactly at the limit: fine
    with pytest.raises(MemoryLimitError):
        build(text, max_memory=used - 1)


def test_a_huge_weight_count_is_refused_before_initialising_weights():
    text = "[net]\nbatch=1\nwidth=64\nheight=64\nchannels=64\n[connected]\noutput=1000000\n"
    start = time.perf_counter()
    e, peak = peak_bytes(lambda: build(text, max_memory=2**28))
    assert isinstance(e, MemoryLimitError) and e.section == "connected" and e.line == 6, e
    assert peak < 2**28 and time.perf_counter() - start < 5


def test_without_a_limit_an_impossible_size_is_still_a_darknet_error():
    big = 2**31 - 1
    text = f"[net]\nbatch=1\nwidth={big}\nheight={big}\nchannels={big}\n[l2norm]\n"
    with pytest.raises(MemoryLimitError, match="cannot allocate") as info:
        build(text, max_memory=None)
    assert info.value.line == 1


@pytest.mark.parametrize("bad", [-1, "lots", 1.5, True])
def test_max_memory_must_be_bytes_auto_or_none(bad):
    with pytest.raises(DarknetError, match="max_memory"):
        build("[net]\nwidth=2\nheight=2\nchannels=1\n[l2norm]\n", max_memory=bad)


def test_load_network_passes_max_memory(tmp_path):
    path = tmp_path / "huge.cfg"
    path.write_text(HUGE_NET)
    with pytest.raises(MemoryLimitError) as info:
        load_network(path, max_memory=2**20)
    assert info.value.path == str(path) and info.value.line == 1


def test_alloc_refuses_negative_sizes_at_the_section_being_built():
    with memory_budget(MemoryBudget(None), "layer 3", ("x.cfg", 12, "conv")):
        with pytest.raises(CfgError, match="negative size") as info:
            alloc(-4, np.float32)
    assert (info.value.path, info.value.line, info.value.section) == ("x.cfg", 12, "conv")
    budget = MemoryBudget(100)
    with memory_budget(budget, "layer 0"):
        with pytest.raises(MemoryLimitError):
            alloc(26, np.float32)
    assert budget.used == 0                           # a refused buffer is not counted
