"""Adam: Kingma and Ba (2015), "Adam: A Method for Stochastic Optimization" (ICLR).

Bias-corrected first and second moment estimates, with epsilon added after the
square root of the uncorrected second moment ("epsilon hat" in the paper's Section
2), as `tf.keras.optimizers.Adam` computes it. AdamW (Loshchilov and Hutter, 2019,
"Decoupled Weight Decay Regularization") also shrinks the weights by
`learning_rate * weight_decay` of themselves each step.
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
WEIGHT_DECAY_KEY = "weight_decay"
STEP_KEY = "step"
ACCUMULATOR_KEY = "accumulator"
PRECONDITIONER_KEY = "preconditioner"


def adam_second_moment(preconditioner, squared_gradient, beta_2):
    """Adam's exponential moving average of the squared gradients."""
    return preconditioner + (squared_gradient - preconditioner) * (1.0 - beta_2)


class AdamFamily(optimizer.Optimizer):
    """Adam, or an optimizer that differs from it only in the second-moment update.

    Args:
      name: the optimizer's name in error messages (`adam`, `adamw`, `yogi`).
      hparams: `learning_rate`, `beta_1`, `beta_2`, `epsilon`, and for AdamW
        `weight_decay`.
      initial_preconditioner: the second moment's starting value.
      second_moment: `(v, g**2, beta_2) -> new v`.
    """

    def __init__(
        self,
        name: str,
        hparams: Mapping[str, float],
        initial_preconditioner: float = 0.0,
        second_moment=adam_second_moment,
    ):
        self._name = name
        self._hparams = hparams
        self._hparams_keys = tuple(hparams)
        self._initial_preconditioner = initial_preconditioner
        self._second_moment = second_moment

    def initialize(self, specs: Any) -> collections.OrderedDict:
        optimizer.check_specs(specs, f"{self._name}.initialize")
        state = optimizer.hparams_to_tensors(self._hparams)
        state[STEP_KEY] = tf.constant(0, tf.int64)
        state[ACCUMULATOR_KEY] = optimizer.filled(specs, 0.0)
        state[PRECONDITIONER_KEY] = optimizer.filled(specs, self._initial_preconditioner)
        return state

    def next(
        self, state: collections.OrderedDict, weights: Any, gradients: Any
    ) -> Tuple[collections.OrderedDict, Any]:
        context = f"{self._name}.next"
        optimizer.check_state_keys(
            state, self._hparams_keys + (STEP_KEY, ACCUMULATOR_KEY, PRECONDITIONER_KEY), context
        )
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        for key in (ACCUMULATOR_KEY, PRECONDITIONER_KEY):
            optimizer.check_state_matches_weights(weights, state[key], key, context)
        learning_rate = state[optimizer.LEARNING_RATE_KEY]
        beta_1 = state[BETA_1_KEY]
        beta_2 = state[BETA_2_KEY]
        epsilon = state[EPSILON_KEY]
        weight_decay = state.get(WEIGHT_DECAY_KEY)
        step = state[STEP_KEY] + 1

        def update(w, a, p, g):
            b1 = tf.cast(beta_1, w.dtype)
            b2 = tf.cast(beta_2, w.dtype)
            t = tf.cast(step, w.dtype)
            a = a + (g - a) * (1.0 - b1)
            p = self._second_moment(p, tf.square(g), b2)
            corrected_rate = (
                tf.cast(learning_rate, w.dtype)
                * tf.sqrt(1.0 - tf.pow(b2, t))
                / (1.0 - tf.pow(b1, t))
            )
            step_size = (a * corrected_rate) / (tf.sqrt(p) + tf.cast(epsilon, w.dtype))
            if weight_decay is not None:
                rate = tf.cast(learning_rate, w.dtype)
                step_size = step_size + rate * tf.cast(weight_decay, w.dtype) * w
            return w - step_size, a, p

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
        return optimizer.select_hparams(state, self._hparams_keys)

    def set_hparams(
        self, state: collections.OrderedDict, hparams: Mapping[str, Any]
    ) -> collections.OrderedDict:
        return optimizer.replace_hparams(state, hparams, self._hparams_keys, self._name)


def checked_hparams(learning_rate, beta_1, beta_2, epsilon, context: str):
    """Adam's hyperparameters, validated, as the state holds them."""
    return collections.OrderedDict(
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


def build_adam(
    learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for Adam.

    The state holds `learning_rate`, `beta_1`, `beta_2`, `epsilon`, the int64 `step`
    counter `t` (0 at first), and the `accumulator` `a` and `preconditioner` `p`, shaped
    like the weights and starting at zeros. One step:

    ```
    t = t + 1
    a = beta_1 * a + (1 - beta_1) * g
    p = beta_2 * p + (1 - beta_2) * g**2
    w = w - lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * a / (sqrt(p) + epsilon)
    ```

    >>> adam = build_adam(learning_rate=0.1)
    >>> state = adam.initialize([tf.TensorSpec([])])
    >>> state, weights = adam.next(state, [tf.constant(1.0)], [tf.constant(2.0)])
    >>> round(float(weights[0]), 6), int(state["step"])
    (0.9, 1)

    Args:
      learning_rate: The step size, `>= 0`.
      beta_1: The decay of the first moment estimate, in `[0, 1)`.
      beta_2: The decay of the second moment estimate, in `[0, 1)`.
      epsilon: Added to the root of the second moment for stability, `>= 0`.

    Raises:
      TypeError: if a hyperparameter is not a real number.
      ValueError: if a hyperparameter is out of range.
    """
    return AdamFamily("adam", checked_hparams(learning_rate, beta_1, beta_2, epsilon, "build_adam"))


def build_adamw(
    learning_rate: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float = 0.004,
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for AdamW: Adam with decoupled weight decay.

    The state is Adam's (see `build_adam`) with `weight_decay` after `epsilon`.
    One step, `w` on the right being the weights before it:

    ```
    w = w - lr * (sqrt(1 - beta_2**t) / (1 - beta_1**t) * a / (sqrt(p) + epsilon)
                  + weight_decay * w)
    ```

    >>> adamw = build_adamw(learning_rate=0.1, weight_decay=0.5)
    >>> state = adamw.initialize([tf.TensorSpec([])])
    >>> state, weights = adamw.next(state, [tf.constant(1.0)], [tf.constant(2.0)])
    >>> round(float(weights[0]), 6)
    0.85

    Args:
      learning_rate, beta_1, beta_2, epsilon: as `build_adam`.
      weight_decay: The fraction of the weights taken off per unit of learning
        rate, `>= 0`; 0 gives Adam.

    Raises:
      TypeError: if a hyperparameter is not a real number.
      ValueError: if a hyperparameter is out of range.
    """
    hparams = checked_hparams(learning_rate, beta_1, beta_2, epsilon, "build_adamw")
    hparams[WEIGHT_DECAY_KEY] = optimizer.check_hparam(weight_decay, "weight_decay", "build_adamw")
    return AdamFamily("adamw", hparams)
