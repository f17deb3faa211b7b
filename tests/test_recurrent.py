"""[rnn], [crnn], [lstm], [gru]: float64 gradient checks over several time steps, state handling, weights I/O."""
import numpy as np
import pytest

from darknet_py import build_network
from darknet_py.cfg import parse_cfg
from darknet_py.errors import CfgWarning
from darknet_py.layers._recurrent import Recurrent
from gradcheck import build64, check_gradients

STEPS, ITEMS = 3, 2     # three time steps of two sequences each: the network's batch is 6


def cfg(body, inputs="inputs=4", steps=STEPS):
    return f"[net]\nbatch={ITEMS}\ntime_steps={steps}\n{inputs}\n\n{body}\n"


def with_fixed_initial_state(net, seed=5):
    """Every forward of ``net`` starts its recurrent layers from the same non-zero state.

    A state carried over from the previous forward would make the loss depend on how often it ran;
    the fixed state is written where the next forward carries it from (the last block)."""
    layers = [l for l in net.layers if isinstance(l, Recurrent)]
    rng = np.random.default_rng(seed)
    fixed = {(id(l), name): rng.uniform(-0.8, 0.8, getattr(l, name).size // (l.steps + 1))
             for l in layers for name in l.STATE_BUFFERS}
    forward = net.forward

    def forward_from_fixed_state(*args, **kwargs):
        for l in layers:
            for name in l.STATE_BUFFERS:
                a = getattr(l, name)
                a[a.size - fixed[(id(l), name)].size:] = fixed[(id(l), name)]
        return forward(*args, **kwargs)
    net.forward = forward_from_fixed_state
    return net


def gradcheck(body, train=True, inputs="inputs=4"):
    text = cfg(body, inputs)
    net = with_fixed_initial_state(build64(text))
    return check_gradients(text, net=net, train=train, max_checks=12)   # per array: keeps CI fast


@pytest.mark.parametrize("shortcut", [0, 1])
@pytest.mark.parametrize("activation", ["tanh", "leaky"])
def test_rnn_gradients_through_time(shortcut, activation):
    gradcheck(f"[rnn]\noutput=3\nactivation={activation}\nshortcut={shortcut}\n\n[connected]\noutput=2\n"
              f"activation=linear")


def test_rnn_hidden_state_size_and_logistic_self_layer():
    """AlexeyAB's keys: a state of 5 values between 4 inputs and 3 outputs, a logistic self layer."""
    net = build64(cfg("[rnn]\noutput=3\nhidden=5\nlogistic=1\nactivation=leaky"))
    layer = net.layers[0]
    assert layer.hidden == 5 and layer.inner["output_layer"].weights.size == 15
    gradcheck("[rnn]\noutput=3\nhidden=5\nlogistic=1\nactivation=leaky")
    with pytest.warns(CfgWarning, match="unused field 'hidden=5'"):
        pj = build_network(parse_cfg(cfg("[rnn]\noutput=3\nhidden=5"), "<pj>"), compat="pjreddie", max_memory=None)
    assert pj.layers[0].hidden == 3        # pjreddie's Darknet does not read hidden


def test_rnn_batch_norm_gradients_at_inference():
    # training batch norm at step 0 sees an all-zero state (zero variance: its gradient is 0 * inf),
    # so the batch-norm parameters are checked with the rolling statistics and a non-zero state
    gradcheck("[rnn]\noutput=3\nactivation=tanh\nbatch_normalize=1", train=False)


@pytest.mark.parametrize("bn", [0, 1])
def test_lstm_gradients_through_time(bn):
    gradcheck(f"[lstm]\noutput=3\nbatch_normalize={bn}")


@pytest.mark.parametrize("tanh", [0, 1])
def test_gru_gradients_through_time(tanh):
    gradcheck(f"[gru]\noutput=3\ntanh={tanh}")


def test_gru_batch_norm_gradients():
    gradcheck("[gru]\noutput=3\nbatch_normalize=1")


@pytest.mark.parametrize("shortcut", [0, 1])
def test_crnn_gradients_through_time(shortcut):
    gradcheck(f"[crnn]\noutput_filters=2\nhidden_filters=2\nactivation=tanh\nshortcut={shortcut}",
              inputs="channels=2\nheight=3\nwidth=3")


def test_crnn_alexeyab_keys_and_batch_norm():
    gradcheck("[crnn]\noutput=2\nhidden=3\nsize=1\npad=0\nactivation=leaky\nbatch_normalize=1", train=False,
              inputs="channels=2\nheight=3\nwidth=3")


def sequence_net(body, steps, items=1):
    text = f"[net]\nbatch={items}\ntime_steps={steps}\ninputs=3\n\n{body}\n"
    return build_network(parse_cfg(text, "<seq>"), dtype=np.float64, max_memory=None)


@pytest.mark.parametrize("body", ["[rnn]\noutput=4\nactivation=tanh", "[lstm]\noutput=4", "[gru]\noutput=4"])
def test_inference_carries_the_state_from_one_forward_to_the_next(body):
    """Two forwards of 2 steps each equal one forward of 4 steps (inference), as Darknet generates text."""
    x = np.random.default_rng(0).normal(size=(4, 3))
    long_net, short_net = sequence_net(body, 4), sequence_net(body, 2)
    for a, b in zip(long_net.layers[0].weight_arrays(), short_net.layers[0].weight_arrays()):
        b[:] = a
    whole = long_net.forward(x).copy()
    halves = np.concatenate([short_net.forward(x[:2]).copy(), short_net.forward(x[2:]).copy()])
    np.testing.assert_allclose(halves, whole, rtol=1e-12, atol=1e-12)
    short_net.layers[0].reset_state()
    np.testing.assert_allclose(short_net.forward(x[:2]), whole[:2], rtol=1e-12, atol=1e-12)


def test_rnn_training_forward_starts_from_zero_state():
    net = sequence_net("[rnn]\noutput=4\nactivation=tanh", 2)
    x = np.random.default_rng(1).normal(size=(2, 3))
    first = net.forward(x, train=True).copy()
    np.testing.assert_array_equal(net.forward(x, train=True), first)


def test_alexeyab_weights_order_with_its_compat():
    lstm = build_network(parse_cfg(cfg("[lstm]\noutput=2"), "<w>"), compat="alexeyab", max_memory=None).layers[0]
    assert lstm.weight_order == ("wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo")
    gru = build_network(parse_cfg(cfg("[gru]\noutput=2"), "<w>"), compat="alexeyab", max_memory=None).layers[0]
    assert gru.weight_order == ("uz", "ur", "uh", "wz", "wr", "wh")


@pytest.mark.parametrize("body, inner", [
    ("[rnn]\noutput=3\nbatch_normalize=1", ["input_layer", "self_layer", "output_layer"]),
    ("[lstm]\noutput=3", ["wi", "wf", "wo", "wg", "ui", "uf", "uo", "ug"]),
    ("[gru]\noutput=3", ["wz", "wr", "wh", "uz", "ur", "uh"]),
    ("[crnn]\noutput_filters=2\nhidden_filters=2\nbatch_normalize=1", ["input_layer", "self_layer", "output_layer"]),
])
def test_weights_round_trip_in_darknets_order(tmp_path, body, inner):
    inputs = "channels=2\nheight=3\nwidth=3" if "crnn" in body else "inputs=4"
    text = cfg(body, inputs)
    net = build_network(parse_cfg(text, "<w>"), max_memory=None)
    layer = net.layers[0]
    rng = np.random.default_rng(3)
    for a in layer.weight_arrays():
        a[:] = rng.normal(size=a.size)
    path = tmp_path / "r.weights"
    net.save_weights(path)
    data = np.fromfile(path, dtype="<f4", offset=20)
    # file order: each inner layer's own arrays (connected: biases, weights[, scales, mean, var];
    # convolutional: biases[, scales, mean, var], weights), inner layers in Darknet's order
    expected = np.concatenate([a for name in inner for a in layer.inner[name].weight_arrays()])
    np.testing.assert_array_equal(data, expected.astype(np.float32))
    other = build_network(parse_cfg(text, "<w>"), max_memory=None)
    other.load_weights(path)
    for a, b in zip(layer.weight_arrays(), other.layers[0].weight_arrays()):
        np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(net.batch,) + net.input_shape).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x), other.forward(x))


def test_batch_override_counts_sequences_of_time_steps():
    """--batch N / batch=N means N sequences, like the cfg's batch: the network batch is N * time_steps."""
    net = build_network(parse_cfg(cfg("[lstm]\noutput=2"), "<b>"), batch=1, max_memory=None)
    assert net.batch == STEPS and net.layers[0].step_batch == 1


def test_training_step_updates_every_inner_layer():
    net = sequence_net("[lstm]\noutput=3\n\n[connected]\noutput=2\nactivation=linear", 2)
    before = [a.copy() for a in net.layers[0].weight_arrays()]
    x = np.random.default_rng(4).normal(size=(2, 3))
    net.forward(x, train=True)
    net.backward(np.ones((2, 2)))
    net.update()
    after = net.layers[0].weight_arrays()
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


CONV_INPUT = "channels=2\nheight=3\nwidth=3"


@pytest.mark.parametrize("peephole", [0, 1])
def test_conv_lstm_gradients_through_time(peephole):
    gradcheck(f"[conv_lstm]\noutput=2\nsize=3\npad=1\npeephole={peephole}", inputs=CONV_INPUT)


def test_conv_lstm_batch_norm_and_activation_gradients():
    gradcheck("[conv_lstm]\noutput=2\nsize=1\nactivation=leaky\nbatch_normalize=1\ngroups=2", train=False,
              inputs=CONV_INPUT)


def test_conv_lstm_gradients_with_the_forks_overwriting_conv_backward():
    """compat="alexeyab": the fork's conv backward overwrites its input delta; the four W (and U)
    convolutions' input gradients must still add up."""
    text = cfg("[conv_lstm]\noutput=2\nsize=3\npad=1", CONV_INPUT)
    net = with_fixed_initial_state(build64(text))
    net.flavour = "alexeyab"
    net.layers[0].scratch = net.layers[0].alloc(net.layers[0].dh.size)
    check_gradients(text, net=net, train=True, max_checks=12)


def test_conv_lstm_keeps_its_state_between_forwards():
    text = "[net]\nbatch=1\ntime_steps={}\nchannels=2\nheight=3\nwidth=3\n\n[conv_lstm]\noutput=2\npad=1\n"
    long_net, short_net = (build_network(parse_cfg(text.format(n), "<s>"), dtype=np.float64, max_memory=None)
                           for n in (4, 2))
    for a, b in zip(long_net.layers[0].weight_arrays(), short_net.layers[0].weight_arrays()):
        b[:] = a
    x = np.random.default_rng(0).normal(size=(4, 2, 3, 3))
    whole = long_net.forward(x).copy()
    halves = np.concatenate([short_net.forward(x[:2]).copy(), short_net.forward(x[2:]).copy()])
    np.testing.assert_allclose(halves, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("peephole", [0, 1])
def test_conv_lstm_weights_round_trip_in_the_forks_order(tmp_path, peephole):
    order = ["vf", "vi", "vo"] * peephole + ["wf", "wi", "wg", "wo", "uf", "ui", "ug", "uo"]
    text = cfg(f"[conv_lstm]\noutput=2\npad=1\nbatch_normalize=1\npeephole={peephole}", CONV_INPUT)
    net = build_network(parse_cfg(text, "<w>"), max_memory=None)
    layer = net.layers[0]
    assert list(layer.weight_order) == order
    rng = np.random.default_rng(3)
    for a in layer.weight_arrays():
        a[:] = rng.normal(size=a.size)
    path = tmp_path / "c.weights"
    net.save_weights(path)
    data = np.fromfile(path, dtype="<f4", offset=20)
    expected = np.concatenate([a for name in order for a in layer.inner[name].weight_arrays()])
    np.testing.assert_array_equal(data, expected.astype(np.float32))
    other = build_network(parse_cfg(text, "<w>"), max_memory=None)
    other.load_weights(path)
    x = rng.normal(size=(net.batch,) + net.input_shape).astype(np.float32)
    np.testing.assert_array_equal(net.forward(x), other.forward(x))


@pytest.mark.parametrize("key, message", [("bottleneck=1", "bottleneck must be 0"), ("stride=2", "stride must be 1"),
                                          ("lstm_activation=relu", "lstm_activation must be tanh"),
                                          ("pad=0", "changes the 3x3 state size")])
def test_conv_lstm_unsupported_keys_are_errors_at_their_line(key, message):
    from darknet_py.errors import CfgError
    text = cfg(f"[conv_lstm]\noutput=2\nsize=3\n{key}" + ("" if key == "pad=0" else "\npad=1"), CONV_INPUT)
    with pytest.raises(CfgError, match=message) as err:
        build_network(parse_cfg(text, "<e>"), max_memory=None)
    assert err.value.line == (10 if key == "pad=0" else 11)     # the key's own line (pad=0: size's)
