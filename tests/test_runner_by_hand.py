"""One step of the phase runner worked out by hand (spec "Pieces shared by every phase",
paper Eq. 2-3, Q14): the objective's terms, Adam's first step, the proximal steps in each
`prox_order`, and frozen entries.

The network (paper-sized): input x = [1, 1], label y = 1, batch of one, one hidden layer
A (2 -> 3, relu) and a head H (3 -> 1).

    A.W = [[0.2, 0.5 , 0.35],     A.b = [0.1, 0.05, -0.8]     unit 0 is old: its column
           [0.3, 0.05, 0.2 ]]                                  and bias are FROZEN;
                                                               units 1, 2 are new: their
                                                               columns are ONE GROUP BLOCK
    H.W = [0.5, -0.5, 0.3]^T,     H.b = [0]                   all trainable, pulled toward
                                                               prev W = [0.1, -1.5]^T (rows
                                                               0-1: the old block), prev
                                                               b = [0.3]

Hyper: lr 0.1, l2_lambda 0.1, regular_lambda 0.5, l1_lambda 0.04, gl_lambda 0.25.

Forward: pre = x A.W + A.b = [0.6, 0.6, -0.25] -> h = [0.6, 0.6, 0] (unit 2 inactive);
z = 0.6 * 0.5 + 0.6 * (-0.5) + 0 + 0 = 0, sigmoid(z) = 0.5, dCE/dz = 0.5 - 1 = -0.5.

Gradients of CE + l2_lambda * sum(v^2)/2 (trainable entries) + regular_lambda *
sum((v - prev)^2)/2 (old block): g = dCE/dv + 0.1 v + 0.5 (v - prev).
  H.W[0]: -0.5 * 0.6 + 0.1 * 0.5 + 0.5 * (0.5 - 0.1) = -0.3 + 0.05 + 0.2 = -0.05
          (without the /2 of the pull: +0.15; the sign tells)
  H.W[1]: -0.3 + 0.1 * (-0.5) + 0.5 * (-0.5 + 1.5) = -0.35 + 0.5 = +0.15
          (without the pull, or with its sign flipped: negative)
  H.W[2]: 0 (h2 = 0) + 0.1 * 0.3 = +0.03 (no pull: row 2 is outside the old block;
          without weight decay: 0, no move)
  H.b:    -0.5 + 0 + 0.5 * (0 - 0.3) = -0.65
  dCE/dpre = -0.5 * H.W * relu' = [-0.25, +0.25, 0]
  A.W[:, 1]: x * 0.25 + 0.1 * [0.5, 0.05] > 0;  A.W[:, 2]: 0 + 0.1 * [0.35, 0.2] > 0
  A.b[1]: 0.25 + 0.1 * 0.05 > 0;  A.b[2]: 0 + 0.1 * (-0.8) < 0
  (A.W[:, 0] and A.b[0] have gradients too, -0.25 each: frozen, they must not move.)

Adam's first step from zero moments: m = 0.1 g, v = 0.001 g^2, alpha = lr *
sqrt(1 - 0.999) / (1 - 0.9), step = alpha m / (sqrt(v) + 1e-8) = lr * sign(g) (the 1e-8
changes it by less than lr * 1e-8 / (0.0316 * 0.03) = 1e-6 for the |g| >= 0.03 here).
So every trainable entry moves by 0.1 against its gradient's sign:
  H.W -> [0.6, -0.6, 0.2], H.b -> 0.1, A.b[1:] -> [-0.05, -0.7],
  A.W[:, 1] -> [0.4, -0.05], A.W[:, 2] -> [0.25, 0.1].

Proximal steps. L1 (0.04) on every entry outside the group block, in every order:
  H.W -> [0.56, -0.56, 0.16], H.b -> 0.06, A.b[1:] -> [-0.01, -0.66].
On the block, column by column:
  l1_then_gl, GL(L1(v)):
    col 1: L1 -> [0.36, -0.01], norm sqrt(0.1297) = 0.360139 > 0.25,
           times (1 - 0.25 / 0.360139) = 0.305823 -> [0.110096, -0.003058]
    col 2: L1 -> [0.21, 0.06], norm sqrt(0.0477) = 0.218403 < 0.25 -> [0, 0]
  gl_only, GL(v):
    col 1: norm sqrt(0.1625) = 0.403113, times (1 - 0.25 / 0.403113) = 0.379826
           -> [0.151930, -0.018991]
    col 2: norm sqrt(0.0725) = 0.269258, times (1 - 0.25 / 0.269258) = 0.071523
           -> [0.017881, 0.007152]
  gl_then_l1, L1(GL(v)):
    col 1: [0.151930, -0.018991] -> L1 -> [0.111930, 0]
    col 2: [0.017881, 0.007152] -> L1 -> [0, 0]
Three different blocks: the order of the proximal steps is pinned.
"""

import numpy as np
import pytest
import tensorflow as tf

from den_tf.config import DENConfig
from den_tf.datasets.tensors import TaskTensors
from den_tf.engine.randomness import RecordedBatches
from den_tf.engine.runner import Hyper, PhaseRunner, PhaseSpec
from den_tf.model.forward import mlp_logits
from den_tf.model.layers import DenDense

W = [[0.2, 0.5, 0.35], [0.3, 0.05, 0.2]]
B = [0.1, 0.05, -0.8]
HW, HB = [[0.5], [-0.5], [0.3]], [0.0]
PREV = ([[0.1], [-1.5]], [0.3])
NEW_COLS = np.array([[False, True, True], [False, True, True]])

# outside the group block: the same in every order
HEAD_W, HEAD_B, A_BIAS = [0.56, -0.56, 0.16], [0.06], [0.1, -0.01, -0.66]
BLOCK = {  # A.W[:, 1:] after the step
    "l1_then_gl": [[0.110096, 0.0], [-0.003058, 0.0]],
    "gl_only": [[0.151930, 0.017881], [-0.018991, 0.007152]],
    "gl_then_l1": [[0.111930, 0.0], [0.0, 0.0]],
}
TOL = 5e-6  # Adam's epsilon (< 1e-6), float32 rounding, the 6 decimals above


def one_step(prox_order, xla=False, **hyper):
    a = DenDense(W, B, [1, 2, 2], "relu")
    head = DenDense(HW, HB, [2], None)
    a.set_trainable(NEW_COLS, np.array([False, True, True]))
    head.set_trainable(True, True)
    spec = PhaseSpec(2, "hand", [a, head], prev={1: PREV}, groups={0: [NEW_COLS]},
                     printing=False, forward=mlp_logits)
    h = dict(lr=0.1, batch_size=1, n_train=1, max_iter=1, l1_lambda=0.04, l2_lambda=0.1,
             gl_lambda=0.25, regular_lambda=0.5, prox_order=prox_order)
    h.update(hyper)
    x, y = tf.constant([[1.0, 1.0]]), tf.constant([[1.0]])
    data = TaskTensors(x, y, x, y, x, y)
    result = PhaseRunner(spec, Hyper(**h), xla=xla).run(
        data, RecordedBatches({"t2_hand": [[0]]}))
    assert result.steps == 1
    return a, head


@pytest.mark.parametrize("order", ["l1_then_gl", "gl_only", "gl_then_l1"])
def test_one_step_by_hand(order):
    a, head = one_step(order)
    k, b = a.numpy()
    # frozen: not by one ulp, although their gradient is -0.25 and L1 would move them
    assert k[0, 0] == np.float32(0.2) and k[1, 0] == np.float32(0.3)
    assert b[0] == np.float32(0.1)
    np.testing.assert_allclose(k[:, 1:], BLOCK[order], rtol=0, atol=TOL)
    np.testing.assert_allclose(b, A_BIAS, rtol=0, atol=TOL)
    np.testing.assert_allclose(head.kernel.numpy()[:, 0], HEAD_W, rtol=0, atol=TOL)
    np.testing.assert_allclose(head.bias.numpy(), HEAD_B, rtol=0, atol=TOL)


def test_the_default_order_is_group_lasso_alone():
    """Q14: the port's default on the new blocks is group lasso alone, as measured
    (README "Q14": closer to the original's logs than L1 then group lasso), in DENConfig,
    and in the Hyper every DEN phase gets from it."""
    default = Hyper.from_config(DENConfig(), n_train=1).prox_order
    assert default == "gl_only" == DENConfig().prox_order
    a, _ = one_step(default)
    np.testing.assert_allclose(a.kernel.numpy()[:, 1:], BLOCK["gl_only"], rtol=0, atol=TOL)


def test_the_same_step_compiled_with_xla():
    a, head = one_step("gl_then_l1", xla=True)
    np.testing.assert_allclose(a.kernel.numpy()[:, 1:], BLOCK["gl_then_l1"], rtol=0, atol=TOL)
    np.testing.assert_allclose(head.kernel.numpy()[:, 0], HEAD_W, rtol=0, atol=TOL)


def test_penalty_terms_by_hand():
    """The objective's two penalties on one parameter (spec "Pieces shared by every
    phase"): l2_lambda * sum over TRAINABLE entries of v^2 / 2, plus regular_lambda *
    sum over the previous-task block (top-left, prev's shape) of (v - prev)^2 / 2.

    v = [[1, 2, 3],    trainable = [[T, F, T],    prev = [[0, 2],   (block: columns 0-1)
         [4, 5, 6]]                 [T, T, F]]           [1, 1]]
    weight decay: 0.1 * (1 + 9 + 16 + 25) / 2 = 0.1 * 51 / 2 = 2.55
    pull: 0.5 * ((1-0)^2 + (2-2)^2 + (4-1)^2 + (5-1)^2) / 2 = 0.5 * 26 / 2 = 6.5
    gradient: 0.1 v on trainable entries + 0.5 (v - prev) on the block
      = [[0.1 + 0.5, 0 + 0, 0.3], [0.4 + 1.5, 0.5 + 2.0, 0]]
    """
    v = np.array([[1, 2, 3], [4, 5, 6]], np.float32)
    mask = np.array([[True, False, True], [True, True, False]])
    layer = DenDense(v, [0.0, 0.0, 0.0], [1, 1, 1], None)
    layer.set_trainable(mask, False)
    spec = PhaseSpec(2, "pen", [layer], prev={0: ([[0, 2], [1, 1]], [0.0, 0.0])},
                     forward=mlp_logits)
    h = Hyper(lr=0.1, batch_size=1, n_train=1, max_iter=1, l1_lambda=0.0, l2_lambda=0.1,
              gl_lambda=0.0, regular_lambda=0.5, prox_order="gl_only")
    slot, = PhaseRunner(spec, h, xla=False).slots
    with tf.GradientTape() as tape:
        tape.watch(slot.var)
        p = slot.penalty(h)
    assert float(p) == pytest.approx(2.55 + 6.5, abs=1e-5)
    np.testing.assert_allclose(tape.gradient(p, slot.var).numpy(),
                               [[0.6, 0.0, 0.3], [1.9, 2.5, 0.0]], rtol=0, atol=1e-6)
    for l2, reg, want in ((0.1, 0.0, 2.55), (0.0, 0.5, 6.5)):
        h2 = Hyper(**{**h.__dict__, "l2_lambda": l2, "regular_lambda": reg})
        assert float(slot.penalty(h2)) == pytest.approx(want, abs=1e-5)
