"""Element-wise gate kernels of [lstm] and [gru] (Darknet's lstm_layer.c, gru_layer.c), one time step.

Every array is flat, one time step of (batch, outputs) values, n = batch * outputs. The matrix
products are the inner [connected] layers' (layers/lstm.py, layers/gru.py); these kernels combine
their outputs into gates and states, and back. Deltas follow Darknet's sign (-dL/d...); backward
kernels ADD into the state gradients they receive (dh_prev) and WRITE the gate deltas.
"""
import numpy as np

from ._jit import parallel_kernel, prange


@parallel_kernel
def lstm_forward(wf, uf, wi, ui, wg, ug, wo, uo, c_prev, f, i_, g, o, c, h):
    """Gates from the summed products: f, i, o logistic, g tanh; c = f*c_prev + i*g; h = o*tanh(c)."""
    for k in prange(c.size):
        f[k] = 1.0 / (1.0 + np.exp(-(wf[k] + uf[k])))
        i_[k] = 1.0 / (1.0 + np.exp(-(wi[k] + ui[k])))
        g[k] = np.tanh(wg[k] + ug[k])
        o[k] = 1.0 / (1.0 + np.exp(-(wo[k] + uo[k])))
        c[k] = f[k] * c_prev[k] + i_[k] * g[k]
        h[k] = o[k] * np.tanh(c[k])


@parallel_kernel
def lstm_backward(dy, dh, c_prev, c, f, i_, g, o, dc, df, di, dg, do):
    """One step back. dh: gradient w.r.t. h from the step after (the output's is dy); dc: w.r.t. c from
    the step after, replaced by the gradient w.r.t. c_prev. Writes the gates' pre-activation deltas."""
    for k in prange(c.size):
        dhk = dy[k] + dh[k]
        tc = np.tanh(c[k])
        dck = dc[k] + dhk * o[k] * (1.0 - tc * tc)
        do[k] = dhk * tc * o[k] * (1.0 - o[k])
        di[k] = dck * g[k] * i_[k] * (1.0 - i_[k])
        dg[k] = dck * i_[k] * (1.0 - g[k] * g[k])
        df[k] = dck * c_prev[k] * f[k] * (1.0 - f[k])
        dc[k] = dck * f[k]


@parallel_kernel
def gru_gates_forward(wz, uz, wr, ur, h_prev, z, r, forgot):
    """z = logistic(wz + uz), r = logistic(wr + ur), forgot = r * h_prev (what wh multiplies)."""
    for k in prange(z.size):
        z[k] = 1.0 / (1.0 + np.exp(-(wz[k] + uz[k])))
        r[k] = 1.0 / (1.0 + np.exp(-(wr[k] + ur[k])))
        forgot[k] = r[k] * h_prev[k]


@parallel_kernel
def gru_output_forward(wh, uh, h_prev, z, hh, h, use_tanh):
    """hh = tanh or logistic of (wh + uh); h = z*h_prev + (1-z)*hh (Darknet's weighted_sum_cpu)."""
    for k in prange(z.size):
        s = wh[k] + uh[k]
        hh[k] = np.tanh(s) if use_tanh else 1.0 / (1.0 + np.exp(-s))
        h[k] = z[k] * h_prev[k] + (1.0 - z[k]) * hh[k]


@parallel_kernel
def gru_output_backward(dy, dh, h_prev, z, hh, dz, dhh, dh_prev, use_tanh):
    """From the gradient w.r.t. h (dy + dh): the z and hh pre-activation deltas; dh_prev += d * z."""
    for k in prange(z.size):
        d = dy[k] + dh[k]
        dz[k] = d * (h_prev[k] - hh[k]) * z[k] * (1.0 - z[k])
        grad = 1.0 - hh[k] * hh[k] if use_tanh else hh[k] * (1.0 - hh[k])
        dhh[k] = d * (1.0 - z[k]) * grad
        dh_prev[k] += d * z[k]


@parallel_kernel
def gru_reset_backward(dforgot, h_prev, r, dr, dh_prev):
    """From the gradient w.r.t. forgot = r*h_prev: r's pre-activation delta; dh_prev += dforgot * r."""
    for k in prange(r.size):
        dr[k] = dforgot[k] * h_prev[k] * r[k] * (1.0 - r[k])
        dh_prev[k] += dforgot[k] * r[k]


@parallel_kernel
def lstm_cell_forward(f, i_, g, c_prev, c):
    """[conv_lstm]'s cell, gates given as summed pre-activations and activated in place:
    f, i logistic, g tanh; c = f*c_prev + i*g. (The output gate may read c: see lstm_hidden_forward.)"""
    for k in prange(c.size):
        f[k] = 1.0 / (1.0 + np.exp(-f[k]))
        i_[k] = 1.0 / (1.0 + np.exp(-i_[k]))
        g[k] = np.tanh(g[k])
        c[k] = f[k] * c_prev[k] + i_[k] * g[k]


@parallel_kernel
def lstm_hidden_forward(o, c, h):
    """o = logistic(o) in place (o holds the summed pre-activation); h = o*tanh(c)."""
    for k in prange(c.size):
        o[k] = 1.0 / (1.0 + np.exp(-o[k]))
        h[k] = o[k] * np.tanh(c[k])


@parallel_kernel
def constrain(x, limit):
    """Clip x to [-limit, limit] in place (Darknet's constrain_cpu)."""
    for k in prange(x.size):
        x[k] = min(limit, max(-limit, x[k]))


@parallel_kernel
def lstm_hidden_backward(dy, dh, c, o, do, dc):
    """From the gradient w.r.t. h (dy + dh): writes the output gate's pre-activation delta do and
    ADDS h's share into dc (the gradient w.r.t. c)."""
    for k in prange(c.size):
        d = dy[k] + dh[k]
        tc = np.tanh(c[k])
        do[k] = d * tc * o[k] * (1.0 - o[k])
        dc[k] += d * o[k] * (1.0 - tc * tc)


@parallel_kernel
def lstm_cell_backward(dc, c_prev, f, i_, g, df, di, dg, dc_prev):
    """From the complete gradient w.r.t. c: writes the f, i, g pre-activation deltas; dc_prev += dc*f."""
    for k in prange(dc.size):
        df[k] = dc[k] * c_prev[k] * f[k] * (1.0 - f[k])
        di[k] = dc[k] * g[k] * i_[k] * (1.0 - i_[k])
        dg[k] = dc[k] * i_[k] * (1.0 - g[k] * g[k])
        dc_prev[k] += dc[k] * f[k]
