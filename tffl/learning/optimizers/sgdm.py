"""Stochastic gradient descent, with optional momentum and Nesterov momentum.

Momentum follows Polyak's heavy ball; the Nesterov variant is Nesterov (1983), "A
method for solving the convex programming problem with convergence rate O(1/k^2)",
in the form of Sutskever, Martens, Dahl and Hinton (2013), "On the importance of
initialization and momentum in deep learning" (ICML), as `tf.keras.optimizers.SGD`
computes it.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Mapping
from typing import Optional
from typing import Tuple

import tensorflow as tf

from tffl.learning.optimizers import optimizer

MOMENTUM_KEY = "momentum"
ACCUMULATOR_KEY = "accumulator"


class _Sgdm(optimizer.Optimizer):
    """Momentum SGD; see `build_sgdm`."""

    def __init__(self, learning_rate: float, momentum: Optional[float], nesterov: bool):
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._nesterov = nesterov
        if momentum:
            self._hparams_keys = [optimizer.LEARNING_RATE_KEY, MOMENTUM_KEY]
        else:
            self._hparams_keys = [optimizer.LEARNING_RATE_KEY]

    def initialize(self, specs: Any) -> collections.OrderedDict:
        optimizer.check_specs(specs, "sgdm.initialize")
        hparams = {optimizer.LEARNING_RATE_KEY: self._learning_rate}
        if self._momentum:
            hparams[MOMENTUM_KEY] = self._momentum
        state = optimizer.hparams_to_tensors(hparams)
        if self._momentum:
            state[ACCUMULATOR_KEY] = optimizer.filled(specs, 0.0)
        return state

    def next(
        self, state: collections.OrderedDict, weights: Any, gradients: Any
    ) -> Tuple[collections.OrderedDict, Any]:
        context = "sgdm.next"
        optimizer.check_state_keys(state, self._hparams_keys, context)
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        learning_rate = state[optimizer.LEARNING_RATE_KEY]
        if MOMENTUM_KEY not in state:
            updated_weights = optimizer.map_leaves(
                lambda w, g: w - tf.cast(learning_rate, w.dtype) * g, weights, gradients
            )
            return collections.OrderedDict(state), updated_weights
        optimizer.check_state_keys(state, [ACCUMULATOR_KEY], context)
        optimizer.check_state_matches_weights(
            weights, state[ACCUMULATOR_KEY], ACCUMULATOR_KEY, context
        )
        momentum = state[MOMENTUM_KEY]
        accumulator = optimizer.map_leaves(
            lambda w, a, g: tf.cast(momentum, w.dtype) * a + g,
            weights,
            state[ACCUMULATOR_KEY],
            gradients,
        )
        if self._nesterov:
            # Step along the gradient plus the look-ahead of the updated velocity.
            direction = optimizer.map_leaves(
                lambda a, g: g + tf.cast(momentum, a.dtype) * a, accumulator, gradients
            )
        else:
            direction = accumulator
        updated_weights = optimizer.map_leaves(
            lambda w, d: w - tf.cast(learning_rate, w.dtype) * d, weights, direction
        )
        updated_state = collections.OrderedDict(state)
        updated_state[ACCUMULATOR_KEY] = accumulator
        return updated_state, updated_weights

    def get_hparams(self, state: collections.OrderedDict) -> collections.OrderedDict:
        return optimizer.select_hparams(state, self._hparams_keys)

    def set_hparams(
        self, state: collections.OrderedDict, hparams: Mapping[str, Any]
    ) -> collections.OrderedDict:
        return optimizer.replace_hparams(state, hparams, self._hparams_keys, "sgdm")


def build_sgdm(
    learning_rate: float = 0.01, momentum: Optional[float] = None, nesterov: bool = False
) -> optimizer.Optimizer:
    """Returns an `Optimizer` for gradient descent with optional momentum.

    Without momentum (None or 0) the state is `{learning_rate}` and the update is
    `w = w - lr * g`. With momentum `m` the state adds `momentum` and an
    `accumulator` `a` shaped like the weights, starting at zeros:

    ```
    a = m * a + g
    w = w - lr * a              # heavy ball
    w = w - lr * (g + m * a)    # nesterov=True
    ```

    This equals `tf.keras.optimizers.SGD(lr, momentum=m, nesterov=...)`, whose
    velocity is `-lr * a` while the learning rate stays fixed.

    >>> sgd = build_sgdm(learning_rate=0.5)
    >>> state = sgd.initialize([tf.TensorSpec([2])])
    >>> state, weights = sgd.next(state, [tf.constant([1.0, 2.0])], [tf.constant([1.0, 1.0])])
    >>> weights[0].numpy()
    array([0.5, 1.5], dtype=float32)

    Args:
      learning_rate: The step size, `>= 0`.
      momentum: The momentum in `[0, 1]`, or None for none.
      nesterov: Whether to use Nesterov momentum.

    Raises:
      TypeError: if a hyperparameter has the wrong type.
      ValueError: if a hyperparameter is out of range.
    """
    context = "build_sgdm"
    learning_rate = optimizer.check_hparam(learning_rate, "learning_rate", context)
    if momentum is not None:
        momentum = optimizer.check_hparam(
            momentum, "momentum", context, upper=1.0, upper_inclusive=True
        )
    if not isinstance(nesterov, bool):
        raise TypeError(
            f"{context}: expected nesterov to be a bool, got {nesterov!r} of type "
            f"{type(nesterov).__name__}"
        )
    return _Sgdm(learning_rate, momentum, nesterov)
