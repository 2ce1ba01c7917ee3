"""Yogi: Zaheer, Reddi, Sachan, Kale and Kumar (2018), "Adaptive Methods for Nonconvex
Optimization" (NeurIPS).

Adam with an additive second-moment update, which grows or shrinks the
preconditioner by at most `(1 - beta_2) * g**2` per step. The step carries Adam's
bias correction, as TensorFlow Federated and TensorFlow Addons compute it.
"""

from __future__ import annotations

import tensorflow as tf

from tffl.learning.optimizers import adam
from tffl.learning.optimizers import optimizer


def yogi_second_moment(preconditioner, squared_gradient, beta_2):
    """Yogi's additive update: `v - (1 - beta_2) * sign(v - g**2) * g**2`."""
    return preconditioner - (1.0 - beta_2) * tf.sign(preconditioner - squared_gradient) * (
        squared_gradient
    )


def build_yogi(
    learning_rate: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-3,
    initial_accumulator_value: float = 1e-6,
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for Yogi.

    The state holds `learning_rate`, `beta_1`, `beta_2`, `epsilon`, the int64 `step`
    counter `t` (0 at first), the `accumulator` `a` (starting at zeros) and the
    `preconditioner` `v` (starting at `initial_accumulator_value`), both shaped like
    the weights. One step:

    ```
    t = t + 1
    a = beta_1 * a + (1 - beta_1) * g
    v = v - (1 - beta_2) * sign(v - g**2) * g**2
    w = w - lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * a / (sqrt(v) + epsilon)
    ```

    A good learning rate is often about ten times Adam's.

    >>> yogi = build_yogi(learning_rate=0.1, beta_2=0.5, epsilon=0.0, initial_accumulator_value=0.0)
    >>> state = yogi.initialize([tf.TensorSpec([])])
    >>> state, weights = yogi.next(state, [tf.constant(1.0)], [tf.constant(2.0)])
    >>> round(float(weights[0]), 6), float(state["preconditioner"][0])
    (0.9, 2.0)

    Args:
      learning_rate: The step size, `>= 0`.
      beta_1: The decay of the first moment estimate, in `[0, 1)`.
      beta_2: The rate of the additive second-moment update, in `[0, 1)`.
      epsilon: Added to the root of the preconditioner; Yogi's paper uses a larger
        one than Adam, trading adaptivity against noise. `>= 0`.
      initial_accumulator_value: The preconditioner's starting value, `>= 0`.

    Raises:
      TypeError: if a hyperparameter is not a real number.
      ValueError: if a hyperparameter is out of range.
    """
    context = "build_yogi"
    hparams = adam.checked_hparams(learning_rate, beta_1, beta_2, epsilon, context)
    initial_accumulator_value = optimizer.check_hparam(
        initial_accumulator_value, "initial_accumulator_value", context
    )
    return adam.AdamFamily("yogi", hparams, initial_accumulator_value, yogi_second_moment)
