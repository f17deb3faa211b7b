"""[convolutional] / [conv]: grouped 2-D convolution through im2col + gemm (Darknet's convolutional_layer.c).

Per batch item and group g: output_g (m, out_h*out_w) = W_g (m, k) @ col_g (k, out_h*out_w), with
m = filters/groups, k = size*size*c/groups and col the im2col of the group's input channels; then
batch norm or bias, then the activation. Weights are (filters, c/groups, size, size) row-major.

Modes (``net.compat``):
* compat: Darknet's CPU numbers, including its 1x1 backward, which writes the input gradient
  straight into net.delta with beta=0 (overwriting what layers above added, e.g. a shortcut's) and
  Darknet's batch-norm backward;
* default: the same forward; backward is the exact gradient and always accumulates into net.delta.
* compat="alexeyab": AlexeyAB's fork (golden_alexeyab README 5.2): EVERY conv backward overwrites
  net.delta (col2im_cpu_ext zeroes its destination), the fork's batch norm (layers/batchnorm.py:
  epsilon inside the sqrt, .9/.1 rolling statistics, no bias gradient) and its activations (relu6 is 0
  on its CPU; gelu's gradient is taken at the output); always the plain path below.

AlexeyAB's options, in every mode: ``stride_x``/``stride_y`` (``stride`` for a missing one) and
``dilation`` (1 for a 1x1 kernel), through im2col_ext/col2im_ext. Like the fork, the output size
(h + 2p - size)/stride_y + 1 ignores the dilation while im2col pads by p*dilation (the two agree for
odd kernels with pad=1; otherwise taps beyond the input read 0). The fork's activations that need the
pre-activation (swish, mish, hard_mish, gelu) or mix channels (normalize_channels*) keep it in
``act_input``, stored by the plain path: they train on it (a backward after a fast inference forward
reruns it anyway); the channel-mixing ones also infer on it.

Binary convolution (``binary=1``: binarised weights; ``xnor=1``: binarised weights and inputs;
kernels/binary.py), always the plain path. Forward: weights sign(w) * mean|w| per filter, inputs
+1/-1 (x > 0). Backward:
* compat (both flavours): Darknet's CPU, which differentiates as if the layer were a float conv: the
  weight gradient from the REAL input, the input gradient through the REAL weights (straight-through),
  and the update moves the real weights. Darknet's CPU forward ignores ``binary=1`` alone (it swaps
  the binary weights in only on the GPU), so compat does too;
* default: the weight gradient is the true gradient of the binarised forward (through sign(w) * mean|w|,
  with the input the forward used); the input gradient of ``xnor`` is straight-through (sign treated as
  the identity: its true gradient is 0 almost everywhere), a documented divergence.
The fork's CPU binarize_weights passes the layer's weight count as the per-filter size (it reads and
writes past the buffer); here both flavours binarise per filter, as pjreddie does.

Divergence in both modes: Darknet's 1x1 path skips im2col even when stride > 1 or padding > 0
(reading the wrong pixels); here only a 1x1, stride-1, unpadded conv skips it.

Inference fast path (``net.train`` false and ``net.fast`` true, the default; ``net.fast = False``
forces the plain path above, which is Darknet's sequence of passes):
* im2col only when needed (``im2col_fast``: bounds found once per row, contiguous copies), and not
  at all where the column matrix is too long for gemm to read in place and there are at least as
  many output columns as filters: gemm then packs its B blocks straight from the image
  (``gemm.conv_gemm``, implicit im2col: the same numbers; ``_packs_from_image`` has the figures);
* gemm with beta = 0 into the output, which is zero-filled first only when the last forward left a
  NaN/Inf in it (gemm keeps Darknet's C *= beta, and NaN * 0 is NaN; the epilogue counts them, so
  nothing else may write NaN into a conv's output buffer between forwards);
* batch norm, bias and activation as ONE parallel pass over the output, y = act(x*a[c] + b[c]) with
  a = scale / (sqrt(var) + 1e-6) and b = bias - mean * a recomputed every forward (O(filters))
  (``activations.scale_bias_activate``);
* a conv whose column matrix exceeds STRIP_BYTES (the first layer of a detector), with weights of
  at most STRIP_MAX_WEIGHT_BYTES and no implicit im2col, runs in strips of output rows: the strip's im2col and gemm product stay in the first STRIP_BYTES of the workspace
  (cache-resident; the rest of the workspace is never touched, so never resident) and the epilogue
  writes the strip into the output; every value is the same sum in the same order;
* with ``net.fold_batchnorm = True`` (off by default), batch norm folded into a separate buffer of
  weights W' = W * a, allocated at build time and recomputed lazily (below); the epilogue is then
  act(x + b). Measured on yolov3-tiny 416 (2 threads): folding buys nothing over the fused scale
  (the multiply is free in a memory-bound pass) and its buffer costs 33 MB of resident memory (the
  issue's budget is 250 MB), hence opt-in.
The folded weights are recomputed when the per-channel coefficients (from scales, biases and the
rolling statistics, compared every forward: O(filters)) changed, or when ``params_version`` moved:
update(), a training forward, weight_arrays() (load/save), parameters() and ``params_changed()``
bump it. A layer that has run backward never folds again (gradient checks edit weights in place
between forwards) and uses the unfolded fused epilogue instead, which reads the weights as they
are. Editing ``layer.weights`` in place in a pure-inference program: call ``layer.params_changed()``.
The results equal the plain path's within float rounding (tests/test_fast_paths.py). A backward
after a fast forward first reruns the plain forward, so it sees Darknet's x / x_norm buffers.

Training fast path (``net.train`` and ``net.fast``; tests/test_fast_training.py): the same values as
the plain path (element-wise work bitwise, Darknet's roundings kept; per-channel sums in float64 lanes,
i.e. another summation order) in fewer passes and thread-pool wake-ups:
* forward: im2col_fast (or conv_gemm, as in inference), gemm with beta = 0 straight into ``x`` (batch norm; ``output`` otherwise),
  zero-filled first only when the last training forward saw a NaN/Inf there; one statistics pass
  (``batchnorm.mean_variance_train``, rolling statistics included) and one pass writing x_norm and
  act(x_norm*scale + bias) (``activations.batchnorm_activate_train``; ``bias_activate`` without BN);
* backward: activation gradient, bias and scale gradients and the batch-norm delta in one kernel
  (``activations.backward_activation_bn``, two sweeps per channel), im2col_fast, the two gemms and
  ``col2im_fast`` (bitwise col2im, parallel over image rows).
``net.fast = False`` runs the plain path in training too (the reference of the tests).
"""
import math

from ..kernels import activations, blas, im2col
from ..kernels import binary as binkernels
from ..kernels import batchnorm as bn
from ..kernels.gemm import DIRECT_B_MAX_K, conv_gemm, gemm
from ..registry import register_layer
from ._activation import activate_ext, fork_code, gradient_ext, parse_activation
from ._params import ParamLayer
from .base import Option, shape3
from ..cfg import reject_unsupported
from .batchnorm import backward_activation_batchnorm, backward_batchnorm, forward_batchnorm, init_batchnorm


STRIP_BYTES = 4 << 20   # inference: a conv whose column matrix is larger runs in strips of output rows
# ... unless its weights are larger than this: every strip reads the whole weight matrix again, and
# large weights (yolov3-tiny's layer 21, 256 x 3456 = 3.4 MiB) lose more than the cache-resident strip
# wins (7.8 -> 7.1 ms in one piece on an AVX2 build, 5.7 -> 5.1 ms on AVX-512)
STRIP_MAX_WEIGHT_BYTES = 1 << 20

# AlexeyAB's [convolutional] keys that change shapes or numbers and are not implemented here: a
# CfgError at the key's line (never a warning over a different network). key: (what, "off" value).
UNSUPPORTED_KEYS = {
    "antialiasing": ("anti-aliased (blurred, strided) convolution", "0"),
    "deform": ("deformable convolution", "0"),
    "sway": ("rotation-invariant (sway) convolution", "0"),
    "rotate": ("rotation-invariant convolution", "0"),
    "stretch": ("scale-invariant (stretch) convolution", "0"),
    "stretch_sway": ("scale/rotation-invariant convolution", "0"),
    "assisted_excitation": ("assisted excitation (changes the training forward)", "0"),
    "coordconv": ("coordinate channels (the fork's GPU)", "0"),
    "grad_centr": ("gradient centralization (the fork's GPU training)", "0"),
}


@register_layer("convolutional", "conv")
class Convolutional(ParamLayer):
    OPTIONS = (
        Option("filters", 1, "output channels"),
        Option("size", 1, "kernel side"),
        Option("stride", 1, "step between windows"),
        Option("pad", 0, "1: padding = size/2 (overrides padding)"),
        Option("padding", 0, "zero cells added on each side"),
        Option("groups", 1, "channel groups (filters and channels must divide by it)"),
        Option("activation", "logistic", "activation function"),
        Option("batch_normalize", 0, "1: batch norm instead of a bias only"),
        Option("cbn", 0, "1: the fork's cross-iteration batch norm; on its CPU plain batch norm, as here"),
        Option("stride_x", 0, "horizontal step (AlexeyAB; default: stride)"),
        Option("stride_y", 0, "vertical step (AlexeyAB; default: stride)"),
        Option("dilation", 1, "spacing of the kernel taps (AlexeyAB; 1 for a 1x1 kernel)"),
        Option("binary", 0, "1: binarised weights sign(w)*mean|w| per filter"),
        Option("xnor", 0, "1: binarised weights and inputs (+1/-1)"),
        Option("flipped", 0, "transposed weights in the file (not supported)"),
        Option("share_index", None, "use the weights of that earlier [convolutional] (AlexeyAB; "
                                    "negative: relative); this layer saves none"),
    )
    shared_from = None      # the layer whose parameters this one uses (share_index), else None

    def __init__(self, batch, in_shape, net, filters, size=1, stride=1, padding=0, groups=1,
                 activation=activations.LOGISTIC, batch_normalize=False, stride_x=None, stride_y=None,
                 dilation=1, binary=False, xnor=False):
        c, h, w = in_shape
        stride_x = stride if stride_x is None else stride_x
        stride_y = stride if stride_y is None else stride_y
        dilation = 1 if size == 1 else dilation
        out_h = (h + 2 * padding - size) // stride_y + 1
        out_w = (w + 2 * padding - size) // stride_x + 1
        super().__init__(batch, in_shape, (filters, out_h, out_w), dtype=net.dtype)  # output, delta: (B, n, OH, OW)
        self.n, self.size, self.stride, self.padding, self.groups = filters, size, stride, padding, groups
        self.stride_x, self.stride_y, self.dilation = stride_x, stride_y, dilation
        # im2col_ext: unequal strides or a dilation (the fast im2col kernels assume neither)
        self.general = stride_x != stride_y or dilation > 1
        if not self.general:
            self.stride = stride_x
        self.activation = activation
        # (B, n, OH, OW) the pre-activation, for activations whose gradient needs it (kernels.activations.EXTENDED)
        self.act_input = self.alloc(batch * self.outputs) if activation in activations.EXTENDED else None
        self.binary, self.xnor = bool(binary), bool(xnor)
        nw = filters * (c // groups) * size * size
        binarized = self.binary or self.xnor
        self.binary_weights = self.alloc(nw) if binarized else None        # like weights: sign(w)*mean|w|
        self.binary_weight_grad = self.alloc(nw) if binarized else None    # like weights: w.r.t. binary_weights
        self.binary_input = self.alloc(batch * c * h * w) if self.xnor else None   # (B, C, H, W) +1/-1
        # the plain path always (binary convs, channel-mixing activations) or in training (activations
        # whose backward reads act_input, which only the plain forward stores)
        self.plain_only = binarized or activation in activations.CROSS_CHANNEL
        self.plain_training = self.plain_only or self.act_input is not None
        nweights = filters * (c // groups) * size * size
        # weights (n, c/groups, size, size), biases (n,); Darknet's scale sqrt(2 / fan_in) * N(0, 1)
        self.init_parameters(nweights, filters, net, math.sqrt(2.0 / (size * size * c / groups)), uniform=False)
        if batch_normalize:
            init_batchnorm(self, filters, out_h * out_w)
            self.init_adam_scales()
        # 1x1, stride 1, no padding: the input already is the column matrix
        self.direct = size == 1 and stride_x == 1 and stride_y == 1 and padding == 0
        self.workspace_size = 0 if self.direct else out_h * out_w * size * size * c // groups   # (k, OH*OW)
        # inference fast path (module docstring): per-channel x*a + b, folded weights
        self.infer_scale = self.alloc(filters)           # (n,) a = scale / (sqrt(rolling var) + 1e-6)
        self.infer_bias = self.alloc(filters)            # (n,) b = bias - rolling mean * a
        self.folded_scale = self.alloc(filters)          # (n,) the a the folded weights were made with
        self.folded_weights = self.alloc(nweights) if batch_normalize else None   # like weights: W * a
        #   (np.zeros: its pages cost no memory until net.fold_batchnorm makes the first fold)
        self.params_version = 0                          # bumped whenever the parameters may have changed
        self._folded_version = -1                        # params_version the folded weights belong to
        self._fold = True                                # False once backward ran (module docstring)
        self._output_dirty = True                        # output may hold NaN/Inf: zero it before gemm
        self._x_dirty = True                             # same for x, the gemm target of a training forward
        self._last_fast = False                          # the last forward took the fast path

    @classmethod
    def from_options(cls, opts, in_shape, net):
        c, h, w = shape3(in_shape, opts, "convolutional")
        filters = opts.int("filters", 1, min=1)
        size = opts.int("size", 1, min=1)
        stride = opts.int("stride", 1, min=1)
        stride_x = opts.int("stride_x", stride, min=1)
        stride_y = opts.int("stride_y", stride, min=1)
        dilation = opts.int("dilation", 1, min=1)
        pad = opts.flag("pad", 0)
        padding = opts.int("padding", 0, min=0)
        if pad:
            padding = size // 2
        groups = opts.int("groups", 1, min=1)
        activation = parse_activation(opts, default="logistic", extended=True)
        batch_normalize = opts.flag("batch_normalize", 0)
        batch_normalize = opts.flag("cbn", 0) or batch_normalize    # the fork: cbn=1 -> batch_normalize=2
        binary, xnor = opts.flag("binary", 0), opts.flag("xnor", 0)
        for key in ("flipped",):
            if opts.flag(key, 0):
                raise opts.error(f"{key}=1 is not supported", key)
        reject_unsupported(opts, UNSUPPORTED_KEYS)
        if c % groups or filters % groups:
            raise opts.error(f"groups={groups} must divide the input channels ({c}) and filters ({filters})",
                             "groups")
        if h + 2 * padding < size or w + 2 * padding < size:
            raise opts.error(f"a {size}x{size} kernel with padding {padding} does not fit a {h}x{w} input", "size")
        layer = cls(net.batch, in_shape, net, filters, size, stride, padding, groups, activation, batch_normalize,
                    stride_x, stride_y, dilation, binary, xnor)
        if opts.raw("share_index", None) is not None:
            layer.share_parameters(_shared_layer(opts, net, layer), fork=net.flavour == "alexeyab")
        return layer

    def share_parameters(self, source, fork=False):
        """share_index: compute with ``source``'s weights, biases (and batch-norm scales and rolling
        statistics), adding this layer's gradients into its ``*_updates``. The parameters belong to
        ``source``: listed, saved and updated there once. ``fork``: AlexeyAB's CPU update runs in every
        sharing layer too, so the shared weights take one step per layer (kept in compat)."""
        names = ["weights", "weight_updates", "biases", "bias_updates"]
        if self.batch_normalize:
            names += ["scales", "scale_updates", "rolling_mean", "rolling_variance"]
        for name in names:
            setattr(self, name, getattr(source, name))
        self.shared_from, self._update_shared = source, fork
        self._fold = False                  # the source's updates move the weights behind our back

    # ------------------------------------------------------------------ views
    def _dims(self):
        c, h, w = self.in_shape
        m = self.n // self.groups                         # filters per group
        k = self.size * self.size * c // self.groups      # rows of a group's column matrix
        spatial = self.out_shape[1] * self.out_shape[2]
        return c // self.groups, h, w, m, k, spatial

    def _columns(self, image, net, fast):
        """(k, spatial) column matrix of one group's image: the image itself for a direct 1x1 conv,
        else its im2col in the workspace (``fast``: im2col_fast, the same values in fewer passes)."""
        cg, h, w, m, k, spatial = self._dims()
        if self.direct:
            return image.reshape(k, spatial)
        col = net.workspace[: k * spatial]
        if self.general:
            im2col.im2col_ext(image, cg, h, w, self.size, self.stride_y, self.stride_x, self.padding * self.dilation,
                              self.dilation, self.out_shape[1], self.out_shape[2], col)
        elif fast:
            im2col.im2col_fast(image, cg, h, w, self.size, self.stride, self.padding, 0, self.out_shape[1], col)
        else:
            im2col.im2col(image, cg, h, w, self.size, self.stride, self.padding, col)
        return col.reshape(k, spatial)

    def _packs_from_image(self):
        """True where the fast paths let gemm pack B straight from the image (``conv_gemm``, implicit
        im2col) instead of im2col writing the column matrix and gemm reading it back: a matrix too
        long for gemm to read in place (k > DIRECT_B_MAX_K) and at least as many columns as filters.

        Measured in yolov3-tiny 416 (2 threads, this project's Xeon, AVX-512 / AVX2 builds): layer
        21 (3456 x 676, 9 MB) 5.8 -> 5.4 / 7.8 -> 6.8 ms; layers 2 and 4, where it replaces strips,
        4.0 -> 3.0 / 4.5 -> 3.8 ms and 2.8 -> 2.4 / 3.7 -> 3.5 ms. With fewer columns than filters
        gemm splits the rows between threads, each packing all of B, and an image is slower to pack
        than a column matrix (layer 12, 4608 x 169: 8.9 -> 9.2 ms on AVX2): those keep im2col."""
        cg, h, w, m, k, spatial = self._dims()
        return not self.direct and not self.general and k > DIRECT_B_MAX_K and spatial >= m

    def _convolve(self, net, weights, target, beta, fast, source=None):
        """target[b, group g] = W_g @ columns(source[b, g]) + beta * target, for every item and group
        (``source``: net.input unless given). ``fast`` where ``_packs_from_image``: gemm packs the
        column matrix from the image (``conv_gemm``), the same values."""
        cg, h, w, m, k, spatial = self._dims()
        source = net.input if source is None else source
        implicit = fast and self._packs_from_image()
        for b in range(self.batch):
            for g in range(self.groups):
                bg = b * self.groups + g
                image = source[bg * cg * h * w: (bg + 1) * cg * h * w]               # (c/groups, H, W)
                wg = weights[g * m * k: (g + 1) * m * k].reshape(m, k)
                out = target[bg * m * spatial: (bg + 1) * m * spatial].reshape(m, spatial)
                if implicit:
                    conv_gemm(wg, image, h, w, self.size, self.stride, self.padding, beta, out)
                else:
                    gemm(False, False, 1.0, wg, self._columns(image, net, fast), beta, out)

    # ------------------------------------------------------------------ forward / backward
    def params_changed(self):
        """Say that the parameter arrays were edited in place: the folded weights are remade."""
        self.params_version += 1

    def _code(self, net):
        """The activation code this forward runs (the fork's CPU quirks under compat="alexeyab")."""
        return fork_code(self.activation, net, generic=False)

    def forward(self, net):
        if not net.fast or net.flavour == "alexeyab" or self.plain_only or (net.train and self.plain_training):
            self._forward_plain(net)
        elif net.train:
            self._forward_train(net)
        else:
            self._forward_fast(net)

    def _forward_fast(self, net):
        """Inference: im2col only when needed, gemm (beta 0) with folded weights, one fused epilogue."""
        cg, h, w, m, k, spatial = self._dims()
        if self.batch_normalize:
            bn.inference_coefficients(self.scales, self.biases, self.rolling_mean, self.rolling_variance,
                                      self.infer_scale, self.infer_bias, self.n)
            weights, use_scales = self.weights, True     # the epilogue scales: x*a + b
            if net.fold_batchnorm:
                folded = self._folded()
                if folded is not None:
                    weights, use_scales = folded, False
        else:
            weights, use_scales = self.weights, False
        bias = self.infer_bias if self.batch_normalize else self.biases
        rows = self._strip_rows(net)
        if rows:
            self._forward_strips(net, weights, bias, use_scales, rows)
            self._last_fast = True
            return
        if self._output_dirty:
            blas.fill(self.output, 0.0)
        self._convolve(net, weights, self.output, 0.0, fast=True)
        bad = activations.scale_bias_activate(self.output, self.infer_scale, bias, self.batch, self.n, spatial,
                                              self.activation, use_scales)
        self._output_dirty = bad > 0
        self._last_fast = True

    def _strip_rows(self, net):
        """Output rows per strip when this conv should run in strips (0: in one piece).

        A conv whose column matrix is large (the first layers of a detector: 19-25 MB at 416x416)
        runs strip by strip of output rows: im2col of the strip and its gemm product live in the
        first STRIP_BYTES of the workspace (cache-resident, and the rest of the workspace is never
        touched, so never resident), and the epilogue writes the strip into the output. Each output
        value is the same sum in the same order, so the values equal the one-piece path's. Not for
        weights over STRIP_MAX_WEIGHT_BYTES (read again by every strip), nor where gemm packs the
        column matrix from the image (``_packs_from_image``: no column matrix at all)."""
        if self.direct or self.general:
            return 0
        cg, h, w, m, k, spatial = self._dims()
        item = self.output.itemsize
        out_w = self.out_shape[2]
        if k * spatial * item <= STRIP_BYTES:
            return 0
        if m * k * item > STRIP_MAX_WEIGHT_BYTES or self._packs_from_image():
            return 0
        rows = max(1, STRIP_BYTES // ((k + m) * out_w * item))
        if rows >= self.out_shape[1] or (k + m) * rows * out_w > net.workspace.size:
            return 0
        return rows

    def _forward_strips(self, net, weights, bias, use_scales, rows):
        cg, h, w, m, k, spatial = self._dims()
        out_h, out_w = self.out_shape[1], self.out_shape[2]
        ws = net.workspace
        bad = 0
        for b in range(self.batch):
            for g in range(self.groups):
                bg = b * self.groups + g
                image = net.input[bg * cg * h * w: (bg + 1) * cg * h * w]            # (c/groups, H, W)
                wg = weights[g * m * k: (g + 1) * m * k].reshape(m, k)
                out = self.output[bg * m * spatial: (bg + 1) * m * spatial]           # (m, OH*OW)
                scales = self.infer_scale[g * m: (g + 1) * m]
                biases = bias[g * m: (g + 1) * m]
                for oy0 in range(0, out_h, rows):
                    oy1 = min(out_h, oy0 + rows)
                    cols = (oy1 - oy0) * out_w
                    col = ws[: k * cols]                                              # (k, cols)
                    prod = ws[k * cols: (k + m) * cols]                               # (m, cols)
                    im2col.im2col_fast(image, cg, h, w, self.size, self.stride, self.padding, oy0, oy1, col)
                    blas.fill(prod, 0.0)                 # the workspace may hold anything, NaN included
                    gemm(False, False, 1.0, wg, col.reshape(k, cols), 0.0, prod.reshape(m, cols))
                    bad += activations.scale_bias_activate_into(prod, out, scales, biases, m, cols, spatial,
                                                                oy0 * out_w, self.activation, use_scales)
        self._output_dirty = bad > 0

    def _folded(self):
        """The folded weights, remade if stale; None when this layer does not fold."""
        if not self._fold:
            return None
        n = self.n
        if self._folded_version != self.params_version or not bn.same_values(self.infer_scale,
                                                                              self.folded_scale, n):
            bn.fold_weights(self.weights, self.infer_scale, self.folded_weights, n, self.weights.size // n)
            blas.copy(self.infer_scale, self.folded_scale)
            self._folded_version = self.params_version
        return self.folded_weights

    def _forward_train(self, net):
        """Training forward with the plain path's values in fewer passes (module docstring): the gemm
        writes straight into x (batch norm) or the output, then one statistics pass and one fused
        normalise/scale/bias/activation pass."""
        self.params_version += 1                         # the rolling statistics move
        self._last_fast = False
        cg, h, w, m, k, spatial = self._dims()
        bnorm = self.batch_normalize
        target = self.x if bnorm else self.output        # (B, n, spatial) the gemm's product
        if (self._x_dirty if bnorm else self._output_dirty):
            blas.fill(target, 0.0)                       # gemm's beta = 0 keeps a NaN already there
        self._convolve(net, self.weights, target, 0.0, fast=True)
        if bnorm:
            bn.mean_variance_train(self.x, self.mean, self.variance, self.rolling_mean, self.rolling_variance,
                                   self.batch, self.n, spatial)
            bad = activations.batchnorm_activate_train(self.x, self.mean, self.variance, self.scales,
                                                       self.biases, self.x_norm, self.output, self.batch,
                                                       self.n, spatial, self.activation, bn.FORWARD_EPS)
            self._x_dirty = bad > 0
            self._output_dirty = True                    # not tracked on this path
        else:
            bad = activations.bias_activate(self.output, self.biases, self.batch, self.n, spatial,
                                            self.activation)
            self._output_dirty = bad > 0

    def _forward_plain(self, net):
        """Darknet's forward, pass by pass (training, and inference with net.fast = False)."""
        if net.train:
            self.params_version += 1                     # the rolling statistics move
        self._last_fast = False
        self._output_dirty = True                        # not tracked here
        self._x_dirty = True
        cg, h, w, m, k, spatial = self._dims()
        blas.fill(self.output, 0.0)
        weights, source = self._binarized(net)
        self._convolve(net, weights, self.output, 1.0, fast=False, source=source)   # Darknet: fill 0, C += A B
        if self.batch_normalize:
            forward_batchnorm(self, net)
        else:
            blas.add_bias(self.output, self.biases, self.batch, self.n, spatial)
        code = self._code(net)
        if self.act_input is not None:
            blas.copy(self.output, self.act_input)
            activate_ext(self.act_input, self.output, self.batch, self.n, spatial, code)
        else:
            activations.activate(self.output, self.output.size, code)

    def _binarized(self, net):
        """(weights, input) the forward convolves: binarised ones for binary/xnor (module docstring)."""
        weights, source = self.weights, net.input
        if self.xnor or (self.binary and not net.compat):      # Darknet's CPU ignores binary=1 alone
            binkernels.binarize_weights(self.weights, self.n, self.weights.size // self.n, self.binary_weights)
            weights = self.binary_weights
        if self.xnor:
            binkernels.binarize_input(net.input, net.input.size, self.binary_input)
            source = self.binary_input
        return weights, source

    def _backward_operands(self, net):
        """(weights for the input gradient, input for the weight gradient, weight-gradient target)."""
        if net.compat or not (self.binary or self.xnor):       # Darknet: the real weights and input
            return self.weights, net.input, self.weight_updates
        blas.fill(self.binary_weight_grad, 0.0)
        return self.binary_weights, (self.binary_input if self.xnor else net.input), self.binary_weight_grad

    def backward(self, net):
        self._fold = False                               # differentiated: parameters may be edited at will
        self.params_version += 1
        if self._last_fast:                              # rebuild Darknet's x / x_norm (and output)
            self._forward_plain(net)
        cg, h, w, m, k, spatial = self._dims()
        fast = net.fast
        code = self._code(net)
        if self.act_input is not None:                   # the gradient needs the pre-activation
            gradient_ext(self.act_input, self.output, self.delta, self.batch, self.n, spatial, code,
                         net.flavour == "alexeyab")
            code = activations.LINEAR                    # done: what follows is batch norm / bias
        if fast:                                         # the passes below fused into one kernel
            backward_activation_batchnorm(self, net, code)
        else:
            activations.gradient(self.output, self.output.size, code, self.delta)
            if self.batch_normalize:
                backward_batchnorm(self, net)
            else:
                blas.backward_bias(self.bias_updates, self.delta, self.batch, self.n, spatial)
        weights, source, weight_grad = self._backward_operands(net)
        for b in range(self.batch):
            for g in range(self.groups):
                bg = b * self.groups + g
                image = source[bg * cg * h * w: (bg + 1) * cg * h * w]
                col = self._columns(image, net, fast)
                d = self.delta[bg * m * spatial: (bg + 1) * m * spatial].reshape(m, spatial)
                gemm(False, True, 1.0, d, col, 1.0, weight_grad[g * m * k: (g + 1) * m * k].reshape(m, k))
                if net.delta is None:                     # layer 0 of a real training run
                    continue
                wg = weights[g * m * k: (g + 1) * m * k].reshape(m, k)
                image_delta = net.delta[bg * cg * h * w: (bg + 1) * cg * h * w]
                fork = net.flavour == "alexeyab"         # the fork overwrites whatever the kernel size
                if self.direct:
                    # Darknet writes the product straight into net.delta with beta = 0 (overwrite)
                    beta = 0.0 if net.compat else 1.0
                    gemm(True, False, 1.0, wg, d, beta, image_delta.reshape(k, spatial))
                    continue
                dcol = net.workspace[: k * spatial].reshape(k, spatial)
                gemm(True, False, 1.0, wg, d, 0.0, dcol)
                if fork:
                    blas.fill(image_delta, 0.0)
                if self.general:
                    im2col.col2im_ext(net.workspace, cg, h, w, self.size, self.stride_y, self.stride_x,
                                      self.padding * self.dilation, self.dilation, self.out_shape[1],
                                      self.out_shape[2], image_delta)
                else:
                    col2im = im2col.col2im_fast if fast else im2col.col2im
                    col2im(net.workspace, cg, h, w, self.size, self.stride, self.padding, image_delta)

        if weight_grad is self.binary_weight_grad:       # through sign(w) * mean|w| to the real weights
            binkernels.binary_weight_gradient(self.weights, weight_grad, self.n, self.weights.size // self.n,
                                          self.weight_updates)

    def update(self, args):
        if self.shared_from is not None and not self._update_shared:
            return                                       # updated once, by the layer they belong to
        super().update(args)
        self.params_version += 1

    def parameters(self):
        if self.shared_from is not None:
            return []                                    # share_index: listed by their owner
        self.params_version += 1                         # callers may write into what they get
        return super().parameters()

    # ------------------------------------------------------------------ file, summary
    def weight_arrays(self):
        if self.shared_from is not None:
            return []                                    # the fork saves shared weights once, at the owner
        self.params_version += 1                         # load_weights writes into these
        if self.batch_normalize:
            return [self.biases, self.scales, self.rolling_mean, self.rolling_variance, self.weights]
        return [self.biases, self.weights]

    def flops(self):
        return 2 * self.weights.size * self.out_shape[1] * self.out_shape[2]

    def summary(self):
        stride = f"{self.stride_x}" if self.stride_x == self.stride_y else f"{self.stride_x}x{self.stride_y}"
        dilation = f"(d{self.dilation})" if self.dilation > 1 else ""
        return {"filters": self.n, "size": f"{self.size}x{self.size}/{stride}{dilation}"}


def _shared_layer(opts, net, layer):
    """The earlier [convolutional] named by share_index, with this layer's parameter shapes."""
    here = len(net.layers)
    value = opts.int("share_index")
    index = value if value >= 0 else here + value
    if not 0 <= index < here or net.layers[index].type != "convolutional":
        raise opts.error(f"share_index={value} must point at an earlier [convolutional] layer", "share_index")
    source = net.layers[index]
    if source.shared_from is not None:
        source = source.shared_from
    if (source.weights.shape, source.batch_normalize) != (layer.weights.shape, layer.batch_normalize):
        raise opts.error(f"share_index={value}: layer {index} has {source.weights.size} weights"
                         f"{' with' if source.batch_normalize else ' without'} batch norm; this layer needs "
                         f"{layer.weights.size}{' with' if layer.batch_normalize else ' without'}", "share_index")
    return source

