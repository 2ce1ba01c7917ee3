"""A Keras optimizer behind the functional `Optimizer` interface, and `build_optimizer`.

A Keras optimizer keeps its slots (momenta, second moments) and its iteration
counter in `tf.Variable`s. `KerasOptimizer` turns it into pure functions: every call
creates the optimizer afresh on variables holding the given weights, loads the slot
values from the state, applies the gradients, and returns the new variable values.
A server can so keep a Keras optimizer's slots across rounds as plain tensors, and
the calls run unchanged inside `tffl.tf_computation`, whose variables start fresh on
every call.
"""

from __future__ import annotations

from typing import Any
from typing import Callable
from typing import List
from typing import Tuple
from typing import Union

import tensorflow as tf

from tffl.learning.optimizers import optimizer

_NEW_OPTIMIZER = tf.keras.optimizers.Optimizer
_LEGACY_OPTIMIZER = tf.keras.optimizers.legacy.Optimizer
_KERAS_OPTIMIZERS = (_NEW_OPTIMIZER, _LEGACY_OPTIMIZER)

_EXPECTED = (
    "a tffl.learning.optimizers.Optimizer or a no-argument function returning a "
    "tf.keras.optimizers.Optimizer"
)


def _build(keras_optimizer, variables: List[tf.Variable]) -> List[tf.Variable]:
    """Creates the optimizer's variables for `variables`; returns them in its own order."""
    if isinstance(keras_optimizer, _LEGACY_OPTIMIZER):
        # Legacy optimizers create their slots on the first `apply_gradients`; this is
        # the same creation without the step.
        keras_optimizer._create_all_weights(variables)  # No public form.
        return list(keras_optimizer.variables())
    keras_optimizer.build(variables)
    return list(keras_optimizer.variables)


class KerasOptimizer(optimizer.Optimizer):
    """Adapts a function returning a Keras optimizer to the `Optimizer` interface.

    The state is the list of the Keras optimizer's variable values in its own order
    (the int64 iteration counter first, then its slots). Hyperparameters stay in the
    Keras optimizer; `get_hparams` and `set_hparams` are not available.

    Works eagerly and inside `tffl.tf_computation`. A plain `tf.function` refuses
    it, since every call creates variables.

    >>> sgd = KerasOptimizer(lambda: tf.keras.optimizers.SGD(0.5, momentum=0.9))
    >>> state = sgd.initialize([tf.TensorSpec([2])])
    >>> [tuple(value.shape) for value in state]
    [(), (2,)]
    >>> state, weights = sgd.next(state, [tf.constant([1.0, 2.0])], [tf.constant([1.0, 1.0])])
    >>> int(state[0]), weights[0].numpy()
    (1, array([0.5, 1.5], dtype=float32))
    """

    def __init__(self, optimizer_fn: Callable[[], Any]):
        """Initializes the adapter.

        Args:
          optimizer_fn: A no-argument function returning a new
            `tf.keras.optimizers.Optimizer` (or a `tf.keras.optimizers.legacy` one)
            each time it is called.

        Raises:
          TypeError: if `optimizer_fn` is not callable, or is a Keras optimizer.
        """
        if isinstance(optimizer_fn, _KERAS_OPTIMIZERS) or not callable(optimizer_fn):
            raise TypeError(
                f"KerasOptimizer: expected a no-argument function returning a "
                f"tf.keras.optimizers.Optimizer, got {_describe(optimizer_fn)}"
            )
        self._optimizer_fn = optimizer_fn

    def _create(self, context: str):
        # The function builds a Python object: autograph has nothing to convert.
        keras_optimizer = tf.autograph.experimental.do_not_convert(self._optimizer_fn)()
        if not isinstance(keras_optimizer, _KERAS_OPTIMIZERS):
            raise TypeError(
                f"{context}: expected optimizer_fn to return a tf.keras.optimizers."
                f"Optimizer, got {keras_optimizer!r} of type {type(keras_optimizer).__name__}"
            )
        return keras_optimizer

    def initialize(self, specs: Any) -> List[tf.Tensor]:
        context = "KerasOptimizer.initialize"
        optimizer.check_specs(specs, context)
        variables = [
            tf.Variable(tf.zeros(spec.shape, spec.dtype), name="weight")
            for spec in tf.nest.flatten(specs)
        ]
        slots = _build(self._create(context), variables)
        return [slot.read_value() for slot in slots]

    def next(self, state: List[Any], weights: Any, gradients: Any) -> Tuple[List[tf.Tensor], Any]:
        context = "KerasOptimizer.next"
        weights, gradients = optimizer.prepare_step(weights, gradients, context)
        variables = [tf.Variable(weight, name="weight") for weight in tf.nest.flatten(weights)]
        keras_optimizer = self._create(context)
        slots = _build(keras_optimizer, variables)
        if not isinstance(state, (list, tuple)):
            raise ValueError(
                f"{context}: expected the state to be the list of the optimizer's "
                f"{len(slots)} variable values, got {optimizer.describe_structure(state)}"
            )
        optimizer.check_structure_match(
            slots,
            list(state),
            context=context,
            expected_name="optimizer's variables",
            actual_name="state",
        )
        for slot, value in zip(slots, state):
            slot.assign(value)
        keras_optimizer.apply_gradients(zip(tf.nest.flatten(gradients), variables))
        updated_weights = tf.nest.pack_sequence_as(
            weights, [variable.read_value() for variable in variables]
        )
        return [slot.read_value() for slot in slots], updated_weights


def _describe(value: Any) -> str:
    if isinstance(value, _KERAS_OPTIMIZERS):
        return (
            f"an instance of {type(value).__name__}; pass a function that creates one, such as "
            f"`lambda: tf.keras.optimizers.{type(value).__name__}(...)`"
        )
    return f"{value!r} of type {type(value).__name__}"


def build_optimizer(
    optimizer_or_fn: Union[optimizer.Optimizer, Callable[[], Any]],
) -> optimizer.Optimizer:
    """Returns `optimizer_or_fn` as an `Optimizer`.

    An `Optimizer` comes back as is; a no-argument function returning a Keras
    optimizer is wrapped in `KerasOptimizer` (the function is first called by
    `initialize` or `next`).

    >>> sgd = build_optimizer(lambda: tf.keras.optimizers.SGD(0.1))
    >>> type(sgd).__name__
    'KerasOptimizer'
    >>> build_optimizer("sgd")
    Traceback (most recent call last):
    ...
    TypeError: build_optimizer: expected a tffl.learning.optimizers.Optimizer or a no-argument function returning a tf.keras.optimizers.Optimizer, got 'sgd' of type str

    Raises:
      TypeError: naming what was given, when it is neither (a Keras optimizer
        instance included: each call needs a fresh one).
    """  # noqa: E501 - the expected error line is as long as the error.
    if isinstance(optimizer_or_fn, optimizer.Optimizer):
        return optimizer_or_fn
    if callable(optimizer_or_fn) and not isinstance(optimizer_or_fn, _KERAS_OPTIMIZERS):
        return KerasOptimizer(optimizer_or_fn)
    raise TypeError(f"build_optimizer: expected {_EXPECTED}, got {_describe(optimizer_or_fn)}")
