"""ONNX export: a Network's inference forward as an ONNX graph (``darknet-py export``).

Every layer's output is one tensor named after the layer (``layer_016``), in Darknet's NCHW layout
((batch, n) for the layers whose output is flat). The graph outputs are the last layer and every
detection layer ([yolo], [region], ...), so a runtime gets exactly what ``Network.forward`` computes
and what Darknet's box decoding reads. The batch dimension is symbolic (``batch``).

Each layer type has one exporter, registered with ``@onnx_exporter("type")`` (plugins can add their
own); a type without one is a DarknetError naming the layer, never a silently different graph.
Batch norm is folded into the convolution's weights in float64 and rounded once (equal to the
Network's inference forward within float rounding); activations without an ONNX operator are built
from elementary ones. ``onnx`` is an optional extra (``pip install 'darknet_py[onnx]'``).
"""
import numpy as np

from .errors import DarknetError

OPSET = 17
EXPORTERS = {}          # layer type -> fn(layer, graph): add the nodes that compute layer's output
DETECTION_TYPES = {"yolo", "region", "Gaussian_yolo", "detection"}


def onnx_exporter(*types):
    """Register ``fn(layer, graph)`` as the exporter of these layer types."""
    def register(fn):
        for t in types:
            EXPORTERS[t] = fn
        return fn
    return register


def _onnx():
    try:
        import onnx
    except ImportError:
        raise DarknetError("ONNX export needs the onnx package: pip install 'darknet_py[onnx]'") from None
    return onnx


def output_name(layer):
    return f"layer_{layer.index:03d}"


class Graph:
    """The nodes and constants of the graph being built, and the tensor names of the layers' outputs."""

    def __init__(self, net):
        self.onnx = _onnx()
        self.net = net
        self.nodes = []         # onnx NodeProto, in execution order
        self.initializers = []  # onnx TensorProto: weights and constants
        self._counter = 0

    def input_of(self, layer):
        """Name of the tensor a layer reads: the previous layer's output or the graph input."""
        return "input" if layer.index == 0 else output_name(self.net.layers[layer.index - 1])

    def fresh(self, hint):
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, hint, value, dtype=np.float32):
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def node(self, op, inputs, output=None, **attrs):
        """Add one node; returns its (single) output's name (``output`` or a fresh one)."""
        output = output or self.fresh(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [output], **attrs))
        return output

    def identity(self, x, output):
        return self.node("Identity", [x], output)

    def flatten(self, x):
        return self.node("Flatten", [x], axis=1)

    def reshape(self, x, shape, output=None):
        """Reshape to (batch, *shape): 0 keeps the batch dimension whatever it is."""
        return self.node("Reshape", [x, self.const("shape", [0] + list(shape), np.int64)], output)


# ------------------------------------------------------------------ activations
def _act_leaky(g, x, slope):
    return g.node("LeakyRelu", [x], alpha=slope)


def _affine(g, x, a, b):
    """a*x + b with scalar constants."""
    y = g.node("Mul", [x, g.const("a", a)])
    return g.node("Add", [y, g.const("b", b)]) if b else y


def _where(g, cond, a, b):
    return g.node("Where", [cond, a, b])


def _less(g, x, v):
    return g.node("Less", [x, g.const("t", v)])


def _greater(g, x, v):
    return g.node("Greater", [x, g.const("t", v)])


def _softplus_mish(g, x):
    """x * tanh(softplus(x)): the fork's mish (its softplus thresholds change nothing beyond rounding)."""
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


def _activation(g, x, name, output=None):
    """Darknet's activation ``name`` applied to tensor x (elementwise)."""
    if name == "linear":
        y = x
    elif name == "leaky":
        y = _act_leaky(g, x, 0.1)
    elif name == "relie":
        y = _act_leaky(g, x, 0.01)
    elif name == "relu":
        y = g.node("Relu", [x])
    elif name == "logistic":
        y = g.node("Sigmoid", [x])
    elif name == "tanh":
        y = g.node("Tanh", [x])
    elif name == "elu":
        y = g.node("Elu", [x], alpha=1.0)
    elif name == "selu":            # Darknet's rounded constants, not ONNX's defaults
        y = g.node("Selu", [x], alpha=1.6732, gamma=1.0507)
    elif name == "ramp":            # x*(x>0) + 0.1x
        y = g.node("Add", [g.node("Relu", [x]), g.node("Mul", [x, g.const("a", 0.1)])])
    elif name == "hardtan":
        y = g.node("Clip", [x, g.const("lo", -1.0), g.const("hi", 1.0)])
    elif name == "relu6":
        y = g.node("Clip", [x, g.const("lo", 0.0), g.const("hi", 6.0)])
    elif name == "lhtan":           # 0.001x below 0, 0.001(x-1)+1 above 1, x between
        lo = _affine(g, x, 0.001, 0.0)
        hi = _affine(g, x, 0.001, 1.0 - 0.001)
        y = _where(g, _less(g, x, 0.0), lo, _where(g, _greater(g, x, 1.0), hi, x))
    elif name == "plse":            # 0.01(x+4) below -4, 0.01(x-4)+1 above 4, 0.125x+0.5 between
        lo = _affine(g, x, 0.01, 0.04)
        hi = _affine(g, x, 0.01, 1.0 - 0.04)
        mid = _affine(g, x, 0.125, 0.5)
        y = _where(g, _less(g, x, -4.0), lo, _where(g, _greater(g, x, 4.0), hi, mid))
    elif name == "loggy":           # 2/(1+e^-x) - 1
        y = _affine(g, g.node("Sigmoid", [x]), 2.0, -1.0)
    elif name == "stair":           # n = floor(x): x - n + floor(x/2) where n odd, floor(x/2) where even
        n = g.node("Floor", [x])
        half = g.node("Floor", [g.node("Mul", [x, g.const("h", 0.5)])])
        odd = g.node("Cast", [g.node("Mod", [g.node("Cast", [n], to=7), g.const("two", 2, np.int64)])], to=9)
        y = _where(g, odd, g.node("Add", [g.node("Sub", [x, n]), half]), half)
    elif name == "mish":
        y = _softplus_mish(g, x)
    elif name == "hard_mish":       # x * min(max(x+2, 0), 2) / 2 (the fork's hard_mish for x in [-2, 0]; x above)
        inner = g.node("Clip", [g.node("Add", [x, g.const("two", 2.0)]), g.const("lo", 0.0), g.const("hi", 2.0)])
        y = g.node("Mul", [x, g.node("Mul", [inner, g.const("half", 0.5)])])
    elif name == "swish":
        y = g.node("Mul", [x, g.node("Sigmoid", [x])])
    elif name == "gelu":            # the fork's tanh approximation
        cube = g.node("Mul", [x, g.node("Mul", [x, x])])
        inner = g.node("Add", [x, g.node("Mul", [cube, g.const("c", 0.044715)])])
        t = g.node("Tanh", [g.node("Mul", [inner, g.const("k", float(np.sqrt(2.0 / np.pi)))])])
        y = g.node("Mul", [g.node("Mul", [x, g.const("half", 0.5)]), _affine(g, t, 1.0, 1.0)])
    elif name == "normalize_channels":                  # relu(x) / (1e-4 + sum over channels of relu(x))
        r = g.node("Relu", [x])
        y = g.node("Div", [r, _channel_total(g, r)])
    elif name in ("normalize_channels_softmax", "normalize_channels_softmax_maxval"):
        if name.endswith("maxval"):                     # exp(x - max) / (1e-4 + sum exp(x - max))
            x = g.node("Sub", [x, g.node("ReduceMax", [x], axes=[1], keepdims=1)])
        e = g.node("Exp", [x])
        y = g.node("Div", [e, _channel_total(g, e)])
    else:
        raise _unsupported(f"activation={name}")
    return g.identity(y, output) if output else y


def _channel_total(g, x):
    """1e-4 + the sum over channels (the fork's normalize_channels denominators)."""
    total = g.node("ReduceSum", [x, g.const("axes", [1], np.int64)], keepdims=1)
    return g.node("Add", [total, g.const("eps", 1e-4)])


class _Unsupported(DarknetError):
    pass


def _unsupported(what):
    return _Unsupported(f"{what} has no ONNX equivalent in this exporter")


def _activation_of(layer):
    from .kernels.activations import NAMES
    return NAMES[layer.activation]


# ------------------------------------------------------------------ batch norm
def batchnorm_affine(layer, net):
    """(a, b) float64 per channel with batchnorm(x) = a*x + b in the network's inference forward.

    pjreddie: scale*(x - mean)/(sqrt(var) + 1e-6) + bias; AlexeyAB's fork: eps inside the sqrt."""
    var = layer.rolling_variance.astype(np.float64)
    if net.flavour == "alexeyab":
        denom = np.sqrt(var + 1e-5)
    else:
        denom = np.sqrt(var) + 1e-6
    a = layer.scales.astype(np.float64) / denom
    return a, layer.biases.astype(np.float64) - layer.rolling_mean.astype(np.float64) * a


def _weights_and_bias(layer, g, weight_shape):
    """Float32 weights (batch norm folded in) and bias, as graph constants."""
    w = layer.weights.astype(np.float64).reshape(weight_shape)
    if layer.batch_normalize:
        a, b = batchnorm_affine(layer, g.net)
        w = w * a.reshape((-1,) + (1,) * (w.ndim - 1))
    else:
        b = layer.biases.astype(np.float64)
    return g.const("W", w), g.const("B", b)


# ------------------------------------------------------------------ layers
@onnx_exporter("convolutional")
def _convolutional(layer, g):
    c, h, w = layer.in_shape
    size, groups = layer.size, layer.groups
    dilation = getattr(layer, "dilation", 1)
    stride_y = getattr(layer, "stride_y", layer.stride)
    stride_x = getattr(layer, "stride_x", layer.stride)
    for key in ("xnor", "binary"):
        if getattr(layer, key, False):
            raise _unsupported(f"{key}=1 convolution")
    W, B = _weights_and_bias(layer, g, (layer.n, c // groups, size, size))
    p = layer.padding
    y = g.node("Conv", [g.input_of(layer), W, B], kernel_shape=[size, size], strides=[stride_y, stride_x],
               pads=[p, p, p, p], group=groups, dilations=[dilation, dilation])
    _activation(g, y, _activation_of(layer), output_name(layer))


@onnx_exporter("connected")
def _connected(layer, g):
    W, B = _weights_and_bias(layer, g, (layer.n, layer.inputs))
    y = g.node("Gemm", [g.flatten(g.input_of(layer)), W, B], transB=1)
    _activation(g, y, _activation_of(layer), output_name(layer))


@onnx_exporter("batchnorm")
def _batchnorm(layer, g):
    a, b = batchnorm_affine(layer, g.net)
    c = layer.out_shape[0]
    y = g.node("Mul", [g.input_of(layer), g.const("a", a.reshape(1, c, 1, 1))])
    g.node("Add", [y, g.const("b", b.reshape(1, c, 1, 1))], output_name(layer))


@onnx_exporter("activation")
def _activation_layer(layer, g):
    _activation(g, g.input_of(layer), _activation_of(layer), output_name(layer))


@onnx_exporter("logistic")
def _logistic(layer, g):
    g.node("Sigmoid", [g.flatten(g.input_of(layer))], output_name(layer))


@onnx_exporter("dropout")
def _dropout(layer, g):
    """Inference: identity (Darknet scales at training time)."""
    x = g.input_of(layer)
    if len(layer.out_shape) == 1:
        x = g.flatten(x)
    g.identity(x, output_name(layer))


@onnx_exporter("maxpool")
def _maxpool(layer, g):
    if getattr(layer, "maxpool_depth", False):
        raise _unsupported("[maxpool] maxpool_depth=1")
    p = layer.padding
    stride_y = getattr(layer, "stride_y", layer.stride)
    stride_x = getattr(layer, "stride_x", layer.stride)
    # Darknet's window starts padding//2 before the input; the rest of the padding lies after it
    g.node("MaxPool", [g.input_of(layer)], output_name(layer), kernel_shape=[layer.size, layer.size],
           strides=[stride_y, stride_x], pads=[p // 2, p // 2, p - p // 2, p - p // 2])


@onnx_exporter("avgpool")
def _avgpool(layer, g):
    g.node("GlobalAveragePool", [g.input_of(layer)], output_name(layer))


@onnx_exporter("route")
def _route(layer, g):
    names = [output_name(g.net.layers[i]) for i in layer.sources]
    groups, group_id = getattr(layer, "groups", 1), getattr(layer, "group_id", 0)
    flat = len(layer.out_shape) == 1
    if flat:
        names = [g.flatten(n) for n in names]
    if groups > 1:          # the fork: each source contributes its group_id-th channel slice
        sliced = []
        for i, n in zip(layer.sources, names):
            part = g.net.layers[i].out_shape[0] // groups
            sliced.append(g.node("Slice", [n, g.const("s", [group_id * part], np.int64),
                                           g.const("e", [(group_id + 1) * part], np.int64),
                                           g.const("ax", [1], np.int64)]))
        names = sliced
    if len(names) == 1:
        g.identity(names[0], output_name(layer))
    else:
        g.node("Concat", names, output_name(layer), axis=1)


@onnx_exporter("shortcut")
def _shortcut(layer, g):
    sources = getattr(layer, "sources", None) or [layer.source]
    if getattr(layer, "weights_type", "none") not in ("none", None, 0):
        raise _unsupported("[shortcut] weights_type")
    for s in sources:
        if g.net.layers[s].out_shape != layer.out_shape:
            raise _unsupported(f"[shortcut] from a layer shaped {g.net.layers[s].out_shape} onto "
                               f"{layer.out_shape}")
    y = g.input_of(layer)
    alpha, beta = getattr(layer, "alpha", 1.0), getattr(layer, "beta", 1.0)
    if alpha != 1.0:
        y = g.node("Mul", [y, g.const("alpha", alpha)])
    for s in sources:
        add = output_name(g.net.layers[s])
        if beta != 1.0:
            add = g.node("Mul", [add, g.const("beta", beta)])
        y = g.node("Add", [y, add])
    _activation(g, y, _activation_of(layer), output_name(layer))


@onnx_exporter("upsample")
def _upsample(layer, g):
    if layer.reverse:
        raise _unsupported("[upsample] with a negative stride (downsampling)")
    s = float(layer.stride)
    y = g.node("Resize", [g.input_of(layer), "", g.const("scales", [1.0, 1.0, s, s])], mode="nearest",
               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if layer.scale != 1.0:
        y = g.node("Mul", [y, g.const("scale", layer.scale)])
    g.identity(y, output_name(layer))


@onnx_exporter("reorg", "reorg3d")
def _permutation(layer, g):
    """A layer that only moves values: a Gather with the permutation read off its own forward."""
    perm = _permutation_of(layer, g.net)
    x = g.flatten(g.input_of(layer))
    y = g.node("Gather", [x, g.const("perm", perm, np.int64)], axis=1)
    g.reshape(y, layer.out_shape, output_name(layer))


def _permutation_of(layer, net):
    """out[i] = in[perm[i]] for one batch item, found by running the layer on 0, 1, 2, ... (exact in
    float32 up to 2^24 values)."""
    if layer.inputs >= 1 << 24:
        raise _unsupported(f"[{layer.type}] on more than 2^24 values per image")
    saved_input, saved_output = net.input, layer.output.copy()
    probe = np.zeros(layer.batch * layer.inputs, layer.output.dtype)
    probe[:layer.inputs] = np.arange(layer.inputs)
    try:
        net.input = probe
        layer.forward(net)
        perm = layer.output[:layer.outputs].astype(np.int64)
    finally:
        net.input = saved_input
        layer.output[:] = saved_output
    if sorted(perm.tolist()) != list(range(layer.inputs)):
        raise _unsupported(f"[{layer.type}] (its forward is not a permutation)")
    return perm


@onnx_exporter("softmax")
def _softmax(layer, g):
    if getattr(layer, "tree", None) is not None:
        raise _unsupported("[softmax] tree=")
    x = g.flatten(g.input_of(layer))
    if layer.temperature != 1.0:
        x = g.node("Div", [x, g.const("T", layer.temperature)])
    n = layer.outputs // layer.groups
    y = g.node("Softmax", [g.reshape(x, (layer.groups, n))], axis=2)
    g.reshape(y, (layer.outputs,), output_name(layer))


@onnx_exporter("l2norm")
def _l2norm(layer, g):
    """x / max(||x||, eps) over channels (the Network's forward; LpNormalization has no eps)."""
    x = g.input_of(layer)
    norm = g.node("Sqrt", [g.node("ReduceSumSquare", [x], axes=[1], keepdims=1)])
    eps = 0.0 if g.net.compat else layer.eps
    g.node("Div", [x, g.node("Max", [norm, g.const("eps", eps)])], output_name(layer))


@onnx_exporter("yolo")
def _yolo(layer, g):
    """Logistic on every entry but tw, th (per anchor: x, y, w, h, objectness, classes); the fork's
    scale_x_y stretches x and y around the cell centre; new_coords leaves every entry raw."""
    c = layer.out_shape[0]
    entries = c // layer.n
    x = g.input_of(layer)
    if getattr(layer, "new_coords", False):
        g.identity(x, output_name(layer))
        return
    logistic = np.ones(entries, bool)
    logistic[2:4] = False
    mask = g.const("mask", np.tile(logistic, layer.n).reshape(1, c, 1, 1), np.bool_)
    y = g.node("Where", [mask, g.node("Sigmoid", [x]), x])
    scale = float(getattr(layer, "scale_x_y", 1.0))
    if scale != 1.0:
        xy = np.zeros(entries, bool)
        xy[0:2] = True
        xy_mask = g.const("xy", np.tile(xy, layer.n).reshape(1, c, 1, 1), np.bool_)
        scaled = _affine(g, y, scale, -0.5 * (scale - 1.0))
        y = g.node("Where", [xy_mask, scaled, y])
    g.identity(y, output_name(layer))


@onnx_exporter("region")
def _region(layer, g):
    """Per anchor: logistic on x, y and the objectness, softmax (or logistic) over the classes."""
    c, h, w = layer.out_shape
    coords, classes, n = layer.coords, layer.classes, layer.n
    if getattr(layer, "tree", None) is not None:
        raise _unsupported("[region] tree=")
    x = g.reshape(g.input_of(layer), (n, coords + 1 + classes, h, w))

    def part(start, end):
        return g.node("Slice", [x, g.const("s", [start], np.int64), g.const("e", [end], np.int64),
                                g.const("ax", [2], np.int64)])
    pieces = [g.node("Sigmoid", [part(0, 2)]), part(2, coords), g.node("Sigmoid", [part(coords, coords + 1)])]
    cls = part(coords + 1, coords + 1 + classes)
    pieces.append(g.node("Softmax", [cls], axis=2) if layer.softmax else g.node("Sigmoid", [cls]))
    y = g.node("Concat", pieces, axis=2)
    g.reshape(y, (c, h, w), output_name(layer))


# ------------------------------------------------------------------ the graph
def _value_info(onnx, name, shape):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["batch"] + list(shape))


def network_to_onnx(net):
    """An onnx ModelProto computing ``net``'s inference forward (DarknetError if a layer has no exporter)."""
    g = Graph(net)
    for layer in net.layers:
        exporter = EXPORTERS.get(layer.type)
        if exporter is None:
            raise DarknetError(f"layer {layer.index} [{layer.type}] has no ONNX equivalent in this exporter "
                               f"({_where_defined(layer)})")
        try:
            exporter(layer, g)
        except _Unsupported as e:
            raise DarknetError(f"layer {layer.index} [{layer.type}] ({_where_defined(layer)}): {e}") from None
    onnx = g.onnx
    outputs = [l for l in net.layers if l.type in DETECTION_TYPES and l is not net.layers[-1]]
    outputs.append(net.layers[-1])
    graph = onnx.helper.make_graph(
        g.nodes, "darknet_py", [_value_info(onnx, "input", net.input_shape)],
        [_value_info(onnx, output_name(l), l.out_shape) for l in outputs], g.initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="darknet_py")
    model.ir_version = min(model.ir_version, 8)      # readable by onnxruntime releases of the last years
    onnx.checker.check_model(model)
    return model


def _where_defined(layer):
    s = layer.section
    return f"{s.path}:{s.line}" if s is not None else "built in Python"


def export_onnx(net, path):
    """Write ``net`` as an ONNX model to ``path`` atomically; returns the names of the graph outputs."""
    from .fileio import atomic_write
    model = network_to_onnx(net)
    data = model.SerializeToString()
    atomic_write(path, lambda f: f.write(data))
    return [o.name for o in model.graph.output]
