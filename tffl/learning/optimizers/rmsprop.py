"""RMSprop: Tieleman and Hinton (2012), "Lecture 6.5 - rmsprop: Divide the gradient by
a running average of its recent magnitude" (COURSERA: Neural Networks for Machine
Learning).

Epsilon is added under the square root, as `tf.keras.optimizers.RMSprop` computes
it (TensorFlow Federated adds it after the root instead).
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Mapping
from typing import Tuple

import tensorflow as tf

from tffl.learning.optimizers import optimizer

DECAY_KEY = "decay"
EPSILON_KEY = "epsilon"
PRECONDITIONER_KEY = "preconditioner"
HPARAMS_KEYS = (optimizer.LEARNING_RATE_KEY, DECAY_KEY, EPSILON_KEY)


class _RmsProp(optimizer.Optimizer):
    """RMSprop; see `build_rmsprop`."""

    def __init__(self, hparams: Mapping[str, float]):
        self._hparams = hparams

    def initialize(self, specs: Any) -> collections.OrderedDict:
        optimizer.check_specs(specs, "rmsprop.initialize")
        state = optimizer.hparams_to_tensors(self._hparams)
        state[PRECONDITIONER_KEY] = optimizer.filled(specs, 0.0)
        return state

    def next(
        self, state: collections.OrderedDict, weights: Any, gradients: Any
    ) -> Tuple[collections.OrderedDict, Any]:
        context = "rmsprop.next"
        optimizer.check_state_keys(state, HPARAMS_KEYS + (PRECONDITIONER_KEY,), context)
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        optimizer.check_state_matches_weights(
            weights, state[PRECONDITIONER_KEY], PRECONDITIONER_KEY, context
        )
        learning_rate = state[optimizer.LEARNING_RATE_KEY]
        decay = state[DECAY_KEY]
        epsilon = state[EPSILON_KEY]

        def update(w, p, g):
            d = tf.cast(decay, w.dtype)
            p = d * p + (1.0 - d) * tf.square(g)
            step = (
                tf.cast(learning_rate, w.dtype) * g * tf.math.rsqrt(p + tf.cast(epsilon, w.dtype))
            )
            return w - step, p

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
        return optimizer.replace_hparams(state, hparams, HPARAMS_KEYS, "rmsprop")


def build_rmsprop(
    learning_rate: float = 0.01, decay: float = 0.9, epsilon: float = 1e-7
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for RMSprop.

    The state holds `learning_rate`, `decay`, `epsilon` and the `preconditioner` `p`,
    shaped like the weights and starting at zeros. One step:

    ```
    p = decay * p + (1 - decay) * g**2
    w = w - lr * g / sqrt(p + epsilon)
    ```

    This equals `tf.keras.optimizers.RMSprop(lr, rho=decay, epsilon=epsilon)`
    (no momentum, not centered).

    >>> rmsprop = build_rmsprop(learning_rate=0.1, decay=0.75, epsilon=0.0)
    >>> state = rmsprop.initialize([tf.TensorSpec([])])
    >>> state, weights = rmsprop.next(state, [tf.constant(1.0)], [tf.constant(2.0)])
    >>> round(float(weights[0]), 6), float(state["preconditioner"][0])
    (0.8, 1.0)

    Args:
      learning_rate: The step size, `>= 0`.
      decay: The decay of the running mean of squared gradients, in `[0, 1)`.
      epsilon: Added under the square root for stability, `>= 0`.

    Raises:
      TypeError: if a hyperparameter is not a real number.
      ValueError: if a hyperparameter is out of range.
    """
    context = "build_rmsprop"
    return _RmsProp(
        collections.OrderedDict(
            [
                (
                    optimizer.LEARNING_RATE_KEY,
                    optimizer.check_hparam(learning_rate, "learning_rate", context),
                ),
                (DECAY_KEY, optimizer.check_hparam(decay, "decay", context, upper=1.0)),
                (EPSILON_KEY, optimizer.check_hparam(epsilon, "epsilon", context)),
            ]
        )
    )
