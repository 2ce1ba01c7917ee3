"""Adagrad: Duchi, Hazan and Singer (2011), "Adaptive Subgradient Methods for Online
Learning and Stochastic Optimization" (JMLR 12).

The diagonal form, with epsilon inside the square root, as
`tf.keras.optimizers.Adagrad` and TensorFlow Federated compute it.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Mapping
from typing import Tuple

import tensorflow as tf

from tffl.learning.optimizers import optimizer

EPSILON_KEY = "epsilon"
PRECONDITIONER_KEY = "preconditioner"
HPARAMS_KEYS = (optimizer.LEARNING_RATE_KEY, EPSILON_KEY)


class _Adagrad(optimizer.Optimizer):
    """Adagrad; see `build_adagrad`."""

    def __init__(self, hparams: Mapping[str, float], initial_accumulator_value: float):
        self._hparams = hparams
        self._initial_accumulator_value = initial_accumulator_value

    def initialize(self, specs: Any) -> collections.OrderedDict:
        optimizer.check_specs(specs, "adagrad.initialize")
        state = optimizer.hparams_to_tensors(self._hparams)
        state[PRECONDITIONER_KEY] = optimizer.filled(specs, self._initial_accumulator_value)
        return state

    def next(
        self, state: collections.OrderedDict, weights: Any, gradients: Any
    ) -> Tuple[collections.OrderedDict, Any]:
        context = "adagrad.next"
        optimizer.check_state_keys(state, HPARAMS_KEYS + (PRECONDITIONER_KEY,), context)
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        optimizer.check_state_matches_weights(
            weights, state[PRECONDITIONER_KEY], PRECONDITIONER_KEY, context
        )
        learning_rate = state[optimizer.LEARNING_RATE_KEY]
        epsilon = state[EPSILON_KEY]

        def update(w, p, g):
            p = p + g * g
            w = w - tf.cast(learning_rate, w.dtype) * g / tf.sqrt(p + tf.cast(epsilon, w.dtype))
            return w, p

        updated_weights, preconditioner = optimizer.map_leaves(
            update, weights, state[PRECONDITIONER_KEY], gradients, num_outputs=2
        )
        updated_state = collections.OrderedDict(state)
        updated_state[PRECONDITIONER_KEY] = preconditioner
        return updated_state, updated_weights

    def get_hparams(self, state: collections.OrderedDict) -> collections.OrderedDict:
        return optimizer.select_hparams(state, HPARAMS_KEYS)

    def set_hparams(
        self, state: collections.OrderedDict, hparams: Mapping[str, Any]
    ) -> collections.OrderedDict:
        return optimizer.replace_hparams(state, hparams, HPARAMS_KEYS, "adagrad")


def build_adagrad(
    learning_rate: float, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for Adagrad.

    The state holds `learning_rate`, `epsilon` and the `preconditioner` `p`, shaped
    like the weights and starting at `initial_accumulator_value`. One step:

    ```
    p = p + g**2
    w = w - lr * g / sqrt(p + epsilon)
    ```

    >>> adagrad = build_adagrad(learning_rate=0.5, initial_accumulator_value=0.0, epsilon=0.0)
    >>> state = adagrad.initialize([tf.TensorSpec([])])
    >>> state, weights = adagrad.next(state, [tf.constant(1.0)], [tf.constant(2.0)])
    >>> float(weights[0]), float(state["preconditioner"][0])
    (0.5, 4.0)

    Args:
      learning_rate: The step size, `>= 0`.
      initial_accumulator_value: The preconditioner's starting value, `>= 0`.
      epsilon: Added under the square root for stability, `>= 0`.

    Raises:
      TypeError: if a hyperparameter is not a real number.
      ValueError: if a hyperparameter is out of range.
    """
    context = "build_adagrad"
    hparams = collections.OrderedDict(
        [
            (
                optimizer.LEARNING_RATE_KEY,
                optimizer.check_hparam(learning_rate, "learning_rate", context),
            ),
            (EPSILON_KEY, optimizer.check_hparam(epsilon, "epsilon", context)),
        ]
    )
    initial_accumulator_value = optimizer.check_hparam(
        initial_accumulator_value, "initial_accumulator_value", context
    )
    return _Adagrad(hparams, initial_accumulator_value)
