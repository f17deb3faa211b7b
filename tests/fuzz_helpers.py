"""Shared pieces of the bad-input fuzz tests: run one cfg through parse + build + forward/backward.

The contract (issue #5): any cfg text or bytes either builds, and then a forward and a backward on a small
input run, or raises a DarknetError (CfgError, MemoryLimitError, ...). Any other exception is a bug; a
case may not run longer than CASE_SECONDS (a hang) and may not allocate much beyond MAX_MEMORY.
"""
import contextlib
import re
import faulthandler
import signal
import sys
import tracemalloc
import warnings
from collections import Counter

import numpy as np

from darknet_py import DarknetError, build_network
from darknet_py.cfg import decode_cfg, parse_cfg
from darknet_py.errors import CfgWarning

MAX_MEMORY = 4 * 2**20           # every fuzzed network is built under this budget
# What a build may allocate in all (tracemalloc peak): the budgeted buffers, temporaries up to the same
# size again (weight initialisation), and Python objects. An allocation the budget did not see shows.
PEAK_ALLOWANCE = 3 * MAX_MEMORY + 4 * 2**20
CASE_SECONDS = 120               # generous: the first case of a layer type compiles its kernels
OUTCOMES = Counter()             # "built", "CfgError", ... over the whole session (printed by the summary)
CASES = Counter()                # test name -> cases run
MESSAGES = Counter()             # (test name, error message with digits as N): what the fuzz mostly hits


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_bound(seconds=CASE_SECONDS):
    """Fail a case that runs too long: SIGALRM for Python code, faulthandler (kills the run) if that
    cannot interrupt (a jitted loop holds no Python frame to raise in)."""
    def on_alarm(signum, frame):
        raise Hang(f"case ran over {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    faulthandler.dump_traceback_later(seconds * 2, exit=True)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        faulthandler.cancel_dump_traceback_later()


def run_cfg_bytes(data, test_name, rng_seed=0):
    """Parse, build, forward and backward ``data``; returns the outcome name. Raises on a contract breach."""
    CASES[test_name] += 1
    with time_bound(), warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)      # overflow in float32 maths is allowed
        try:
            tracemalloc.start()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            try:
                sections = parse_cfg(decode_cfg(data, "<fuzz>"), "<fuzz>")
                net = build_network(sections, "<fuzz>", max_memory=MAX_MEMORY)
            finally:
                peak = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
        except DarknetError as e:
            assert peak <= PEAK_ALLOWANCE, f"rejected, but only after allocating {peak} bytes: {e}"
            OUTCOMES[type(e).__name__] += 1
            MESSAGES[test_name, re.sub(r"[0-9]+", "N", getattr(e, "message", str(e)))[:70]] += 1
            return type(e).__name__
        assert net.budget.used <= MAX_MEMORY, f"budget overrun: {net.budget.used} > {MAX_MEMORY}"
        assert peak <= PEAK_ALLOWANCE, (
            f"build allocated {peak} bytes (tracemalloc peak) with a budget of {MAX_MEMORY}: "
            f"a buffer bypasses alloc()")
        rng = np.random.default_rng(rng_seed)
        x = rng.normal(0.0, 1.0, (net.batch,) + tuple(net.input_shape)).astype(np.float32)
        try:
            net.forward(x)
            net.forward(x, train=True)
            net.backward()
        except DarknetError as e:
            OUTCOMES["run: " + type(e).__name__] += 1
            MESSAGES[test_name, "run: " + str(e)[:90]] += 1
            return "run: " + type(e).__name__
        OUTCOMES["built and ran"] += 1
        return "built and ran"


def describe_failure(data):
    """The cfg that broke the contract, for the assertion message (hypothesis also prints the example)."""
    text = data.decode("utf-8", "backslashreplace")
    return f"\n----- failing cfg -----\n{text}\n-----------------------"


def report(out=None):
    total = sum(CASES.values())
    print(f"\nbad-input fuzz: {total} generated cfgs ({dict(CASES)}); outcomes: {dict(OUTCOMES)}",
          file=out or sys.stdout)      # looked up now: pytest swaps sys.stdout while capturing
    return total
