"""DNN-EWC: elastic weight consolidation (Kirkpatrick et al. 2017, PNAS, Eq. 3).

After task s, the diagonal Fisher information of the hidden layers' weights and biases,

    F_s = 1/N sum_n (d/d theta log p(y_n | x_n; theta_s))^2,

with log p(y | x) = sum_k [y_k log sigma(z_k) + (1 - y_k) log(1 - sigma(z_k))] the
log-likelihood of the task's sigmoid outputs (head s), averaged over the first N
(--ewc_samples, default 1000) training examples of task s in the task's order: the
EMPIRICAL Fisher (the true labels y_n, not labels sampled from the model). The heads are
per task and are not pulled.

Training task t adds Kirkpatrick's penalty for every earlier task, one per task:

    sum_{s<t} lambda/2 * sum_i F_s,i (theta_i - theta*_s,i)^2

(theta*_s: the weights at the end of task s). A sum of quadratics is one quadratic,

    lambda/2 * sum_i F_i (theta_i - theta_bar_i)^2 + const,
    F = sum_{s<t} F_s,   theta_bar = sum_s F_s theta*_s / F   (theta*_{t-1} where F = 0),

with the same gradient at every theta, so the runner's single weighted pull toward
`prev` (PhaseSpec.prev_weights = F, regular_lambda = lambda) is exactly the sum of the
per-task penalties. lambda (--ewc_lambda) is chosen on the validation split.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import numpy as np
import tensorflow as tf

from den_tf.baselines.dnn import DNN
from den_tf.datasets.tensors import task_batch

_FISHER: Dict[Callable, Callable] = {}


def _fisher_fn(forward: Callable) -> Callable:
    """Compiled sum over a chunk of the squared per-example gradients."""
    if forward not in _FISHER:
        def fn(wrt, rest, x, y):
            with tf.GradientTape() as tape:
                tape.watch(wrt)
                logits = forward(list(wrt) + list(rest), x)
                loglik = -tf.reduce_sum(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits), axis=1)
            jac = tape.jacobian(loglik, wrt)  # per example: [n, *shape]
            return [tf.reduce_sum(tf.square(j), axis=0) for j in jac]
        _FISHER[forward] = tf.function(fn)
    return _FISHER[forward]


def diagonal_fisher(params: Sequence, n_wrt: int, forward: Callable, x, y,
                    chunk: int = 100) -> List[np.ndarray]:
    """The empirical diagonal Fisher of params[:n_wrt] (see the module docstring): the
    mean over the examples (x, y) of the squared gradient of each example's sigmoid
    log-likelihood under `forward(params, x)`. float32; summed in float64 over chunks."""
    wrt = [tf.convert_to_tensor(p) for p in params[:n_wrt]]
    rest = [tf.convert_to_tensor(p) for p in params[n_wrt:]]
    n = int(x.shape[0])
    fn = _fisher_fn(forward)
    total = [np.zeros(w.shape, np.float64) for w in wrt]
    for s in range(0, n, chunk):
        part = fn(wrt, rest, x[s:s + chunk], y[s:s + chunk])
        for acc, p in zip(total, part):
            acc += p.numpy()
    return [(acc / n).astype(np.float32) for acc in total]


class EWC(DNN):
    """DNN with Kirkpatrick et al.'s EWC penalty on the hidden layers."""

    name = "ewc"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.fisher: List[np.ndarray] = []  # F = sum_s F_s, per hidden W and b
        self.weighted: List[np.ndarray] = []  # sum_s F_s * theta*_s (float64)

    def describe(self) -> str:
        return (f"ewc: dnn plus ewc_lambda={self.config.ewc_lambda:g} / 2 * sum_s sum F_s "
                f"(theta - theta*_s)^2 on the hidden layers, empirical Fisher over "
                f"{self.config.ewc_samples} training examples per task")

    def end_task(self, t, data) -> None:
        """F_t from task t's data, added to the running sums."""
        n = min(self.config.ewc_samples, data.n_train)
        x, y = task_batch(data, tf.range(n))
        n_wrt = 2 * self.network.n_hidden
        params = self.params_for(t)
        f_t = diagonal_fisher(params, n_wrt, self.forward_for(t), x, y)
        theta = [np.asarray(p, np.float64) for p in params[:n_wrt]]
        if not self.fisher:
            self.fisher = [np.zeros(f.shape, np.float64) for f in f_t]
            self.weighted = [np.zeros(f.shape, np.float64) for f in f_t]
        for i, f in enumerate(f_t):
            self.fisher[i] += f
            self.weighted[i] += f.astype(np.float64) * theta[i]
        self.latest = theta

    def checkpoint_extra(self) -> dict:
        out = {}
        for name in ("fisher", "weighted", "latest"):
            for i, a in enumerate(getattr(self, name, [])):
                out[f"{name}{i}"] = np.asarray(a)
        return out

    def restore_extra(self, arrays) -> None:
        for name in ("fisher", "weighted", "latest"):
            n = sum(1 for k in arrays if k.startswith(name) and k[len(name):].isdigit())
            setattr(self, name, [arrays[f"{name}{i}"] for i in range(n)])

    def anchors(self) -> List[np.ndarray]:
        """theta_bar = sum_s F_s theta*_s / sum_s F_s (theta*_{t-1} where F = 0)."""
        out = []
        for f, w, th in zip(self.fisher, self.weighted, self.latest):
            safe = np.where(f > 0, f, 1.0)
            out.append(np.where(f > 0, w / safe, th).astype(np.float32))
        return out

    def penalty(self, t):
        if t == 1:
            return 0.0, {}, {}
        a = self.anchors()
        f = [x.astype(np.float32) for x in self.fisher]
        n = self.network.n_hidden
        prev = {i: (a[2 * i], a[2 * i + 1]) for i in range(n)}
        weights = {i: (f[2 * i], f[2 * i + 1]) for i in range(n)}
        return self.config.ewc_lambda, prev, weights

