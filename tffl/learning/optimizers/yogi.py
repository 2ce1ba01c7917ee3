"""Yogi: Zaheer, Reddi, Sachan, Kale and Kumar (2018), "Adaptive Methods for Nonconvex
Optimization" (NeurIPS).

Adam with an additive second-moment update, which grows or shrinks the
preconditioner by at most `(1 - beta_2) * g**2` per step. The step carries Adam's
bias correction, as TensorFlow Federated and TensorFlow Addons compute it.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Mapping
from typing import Tuple

import tensorflow as tf

from tffl.learning.optimizers import optimizer

BETA_1_KEY = "beta_1"
BETA_2_KEY = "beta_2"
EPSILON_KEY = "epsilon"
STEP_KEY = "step"
ACCUMULATOR_KEY = "accumulator"
PRECONDITIONER_KEY = "preconditioner"
HPARAMS_KEYS = (optimizer.LEARNING_RATE_KEY, BETA_1_KEY, BETA_2_KEY, EPSILON_KEY)


class _Yogi(optimizer.Optimizer):
    """Yogi; see `build_yogi`."""

    def __init__(self, hparams: Mapping[str, float], initial_accumulator_value: float):
        self._hparams = hparams
        self._initial_accumulator_value = initial_accumulator_value

    def initialize(self, specs: Any) -> collections.OrderedDict:
        optimizer.check_specs(specs, "yogi.initialize")
        state = optimizer.hparams_to_tensors(self._hparams)
        state[STEP_KEY] = tf.constant(0, tf.int64)
        state[ACCUMULATOR_KEY] = optimizer.filled(specs, 0.0)
        state[PRECONDITIONER_KEY] = optimizer.filled(specs, self._initial_accumulator_value)
        return state

    def next(
        self, state: collections.OrderedDict, weights: Any, gradients: Any
    ) -> Tuple[collections.OrderedDict, Any]:
        context = "yogi.next"
        optimizer.check_state_keys(
            state, HPARAMS_KEYS + (STEP_KEY, ACCUMULATOR_KEY, PRECONDITIONER_KEY), context
        )
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        for key in (ACCUMULATOR_KEY, PRECONDITIONER_KEY):
            optimizer.check_state_matches_weights(weights, state[key], key, context)
        learning_rate = state[optimizer.LEARNING_RATE_KEY]
        beta_1 = state[BETA_1_KEY]
        beta_2 = state[BETA_2_KEY]
        epsilon = state[EPSILON_KEY]
        step = state[STEP_KEY] + 1

        def update(w, a, p, g):
            b1 = tf.cast(beta_1, w.dtype)
            b2 = tf.cast(beta_2, w.dtype)
            t = tf.cast(step, w.dtype)
            g2 = tf.square(g)
            a = a + (g - a) * (1.0 - b1)
            p = p - (1.0 - b2) * tf.sign(p - g2) * g2
            corrected_rate = (
                tf.cast(learning_rate, w.dtype)
                * tf.sqrt(1.0 - tf.pow(b2, t))
                / (1.0 - tf.pow(b1, t))
            )
            w = w - (a * corrected_rate) / (tf.sqrt(p) + tf.cast(epsilon, w.dtype))
            return w, a, p

        updated_weights, accumulator, preconditioner = optimizer.map_leaves(
            update,
            weights,
            state[ACCUMULATOR_KEY],
            state[PRECONDITIONER_KEY],
            gradients,
            num_outputs=3,
        )
        updated_state = collections.OrderedDict(state)
        updated_state[STEP_KEY] = step
        updated_state[ACCUMULATOR_KEY] = accumulator
        updated_state[PRECONDITIONER_KEY] = preconditioner
        return updated_state, updated_weights

    def get_hparams(self, state: collections.OrderedDict) -> collections.OrderedDict:
        return optimizer.select_hparams(state, HPARAMS_KEYS)

    def set_hparams(
        self, state: collections.OrderedDict, hparams: Mapping[str, Any]
    ) -> collections.OrderedDict:
        return optimizer.replace_hparams(state, hparams, HPARAMS_KEYS, "yogi")


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
    hparams = collections.OrderedDict(
        [
            (
                optimizer.LEARNING_RATE_KEY,
                optimizer.check_hparam(learning_rate, "learning_rate", context),
            ),
            (BETA_1_KEY, optimizer.check_hparam(beta_1, "beta_1", context, upper=1.0)),
            (BETA_2_KEY, optimizer.check_hparam(beta_2, "beta_2", context, upper=1.0)),
            (EPSILON_KEY, optimizer.check_hparam(epsilon, "epsilon", context)),
        ]
    )
    initial_accumulator_value = optimizer.check_hparam(
        initial_accumulator_value, "initial_accumulator_value", context
    )
    return _Yogi(hparams, initial_accumulator_value)
