"""Learning-rate policies (Darknet's get_current_rate): each against its formula written out here in
float64, the recorded Darknet rates of the golden2 trajectories bit for bit, and the cfg errors."""
import json
import math
import warnings

import numpy as np
import pytest

from darknet_py import CfgError, CfgWarning, build_network
from darknet_py.cfg import parse_cfg
from golden import golden_root

NET = "[net]\nbatch=4\nsubdivisions=2\nwidth=4\nheight=4\nchannels=3\nlearning_rate=0.1\n"


def build(extra, compat=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        return build_network(parse_cfg(NET + extra + "[l2norm]\n", "p.cfg"), "p.cfg", compat=compat)


def rates(net, batches):
    """The rate of each update number (seen = batch_num * batch * subdivisions, as after the increments)."""
    out = []
    for b in batches:
        net.seen = b * net.batch * net.subdivisions
        out.append(float(net.current_rate()))
    return np.array(out)


B = np.arange(0, 40)


@pytest.mark.parametrize("extra,formula", [
    ("policy=constant\n", lambda b: 0.1 + 0 * b),
    ("policy=step\nstep=7\nscale=0.5\n", lambda b: 0.1 * 0.5 ** (b // 7)),
    ("policy=steps\nsteps=5,20,30\nscales=.1,10,.5\n",
     lambda b: 0.1 * np.where(b >= 5, .1, 1) * np.where(b >= 20, 10, 1) * np.where(b >= 30, .5, 1)),
    ("policy=exp\ngamma=0.9\n", lambda b: 0.1 * 0.9 ** b),
    ("policy=poly\npower=3\nmax_batches=40\n", lambda b: 0.1 * (1 - b / 40) ** 3),
    ("policy=sigmoid\ngamma=0.5\nstep=20\n", lambda b: 0.1 / (1 + np.exp(0.5 * (b - 20)))),
    ("policy=sgdr\nsgdr_cycle=5\nsgdr_mult=2\nlearning_rate_min=0.001\n", None),
])
def test_policy_follows_its_formula(extra, formula):
    got = rates(build(extra), B)
    if formula is None:                       # sgdr: cycles [0,5], (5,15], (15,35], (35,75]: cosine in each
        starts = np.select([B <= 5, B <= 15, B <= 35], [0, 5, 15], 35)
        sizes = np.select([B <= 5, B <= 15, B <= 35], [5, 10, 20], 40)
        formula = lambda b: 0.001 + 0.5 * (0.1 - 0.001) * (1 + np.cos((b - starts) * math.pi / sizes))
    np.testing.assert_allclose(got, formula(B.astype(np.float64)), rtol=5e-6, atol=1e-12)   # float32 operands, as in C


def test_burn_in_applies_to_every_policy_with_the_shared_power():
    for extra in ("policy=constant\n", "policy=exp\ngamma=.5\n", "policy=poly\nmax_batches=100\n"):
        got = rates(build(extra + "burn_in=10\npower=2\n"), range(10))
        np.testing.assert_allclose(got, 0.1 * (np.arange(10) / 10) ** 2, rtol=2e-7)


def test_sgdr_restarts_at_the_top_of_each_cycle():
    got = rates(build("policy=sgdr\nsgdr_cycle=4\nsgdr_mult=1\nlearning_rate_min=0\n"), range(13))
    assert got[0] == pytest.approx(0.1) and got[4] == pytest.approx(0, abs=1e-9)
    assert got[5] == pytest.approx(got[1]) and got[9] == pytest.approx(got[1])   # batch 4 ends a cycle


def test_random_policy_draws_from_the_network_rng():
    net = build("policy=random\npower=1\n")
    r = rates(net, [5] * 50)
    assert ((r >= 0) & (r <= 0.1)).all() and len(set(r)) > 40
    net.rng = np.random.default_rng(3)
    first = rates(net, [5] * 5)
    net.rng = np.random.default_rng(3)
    assert np.array_equal(first, rates(net, [5] * 5))


def test_sigmoid_wraps_around_before_step_only_in_pjreddie_compat():
    """pjreddie's batch_num is a size_t: batch_num - step wraps to ~1.8e19, exp overflows, rate 0."""
    extra = "policy=sigmoid\ngamma=0.8\nstep=7\n"
    before = np.arange(1, 7)
    assert (rates(build(extra, compat=True), before) == 0).all()
    np.testing.assert_allclose(rates(build(extra), before), 0.1 / (1 + np.exp(0.8 * (before - 7))), rtol=2e-6)
    np.testing.assert_allclose(rates(build(extra, compat="alexeyab"), before), rates(build(extra), before))
    after = np.arange(7, 12)
    assert np.array_equal(rates(build(extra, compat=True), after), rates(build(extra), after))


@pytest.mark.parametrize("policy", ["steps", "poly", "exp"])
def test_golden_trajectory_rates_bit_for_bit(policy):
    case = golden_root("golden2") / f"train_trajectory_{policy}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CfgWarning)
        from darknet_py import load_network
        net = load_network(case / "net.cfg", compat=True)
    for step in json.loads((case / "case.json").read_text())["trajectory"]:
        net.seen = step["seen"]
        assert net.current_rate() == np.float32(step["rate"]), step


def test_sig_is_a_deprecated_alias_of_sigmoid():
    with pytest.warns(CfgWarning, match="policy=sig is not a Darknet name"):
        build_network(parse_cfg(NET + "policy=sig\n[l2norm]\n", "p.cfg"), "p.cfg")
    assert build("policy=sig\n").config.policy == "sigmoid"


@pytest.mark.parametrize("extra,line,match", [
    ("policy=cosine\n", 8, "policy=cosine is not one of: constant, step, steps, exp, poly, sigmoid, random, sgdr"),
    ("policy=poly\n", 8, "needs max_batches >= 1"),
    ("policy=steps\nsteps=1,2\nscales=.1\n", 10, "steps has 2 values but scales has 1"),
    ("policy=sgdr\n", 8, "policy=sgdr needs a cycle of >= 1 batches: sgdr_cycle=0"),
])
def test_bad_policy_is_a_cfg_error_at_its_line(extra, line, match):
    with pytest.raises(CfgError) as info:
        build(extra)
    assert info.value.path == "p.cfg" and info.value.line == line, str(info.value)
    assert match in str(info.value)
