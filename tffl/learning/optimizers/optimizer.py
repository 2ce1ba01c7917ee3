"""The `Optimizer` interface: pure `initialize` and `next` over structures of tensors.

An optimizer keeps everything that carries from one step to the next in its state,
a structure of tensors, never in `tf.Variable`s. `next` is then a pure function
`(state, weights, gradients) -> (state, weights)` that runs the same eagerly, in a
`tf.function` and in a `tffl.tf_computation`, and a server can hold the state between
rounds as a plain value. The optimizers built here keep their hyperparameters in the
state too, as float32 scalars under TensorFlow Federated's keys (`learning_rate`,
`beta_1`, ...), so `get_hparams` / `set_hparams` can read and change them between
steps (a learning-rate schedule, say) without rebuilding anything.

Weights, gradients and specs are nested lists, tuples, namedtuples, dicts and
OrderedDicts. The checks here name the first position where two structures differ.
"""

from __future__ import annotations

import abc
import collections
import math
import numbers
from typing import Any
from typing import Callable
from typing import Iterator
from typing import Mapping
from typing import Optional
from typing import Sequence
from typing import Tuple

import tensorflow as tf

from tffl.types import computation_types

LEARNING_RATE_KEY = "learning_rate"


class Optimizer(abc.ABC):
    """An optimization algorithm as a pair of pure functions over tensors.

    `initialize(specs)` returns the initial state and `next(state, weights, gradients)`
    returns `(state, weights)` after one step. Neither creates or reads a `tf.Variable`:
    whatever a step needs from the previous one travels in the state.
    """

    @abc.abstractmethod
    def initialize(self, specs: Any) -> Any:
        """Returns the initial state.

        Args:
          specs: A structure of `tf.TensorSpec`s with the structure, shapes and dtypes
            of the weights that `next` will update.

        Returns:
          The initial state, a structure of tensors.
        """

    @abc.abstractmethod
    def next(self, state: Any, weights: Any, gradients: Any) -> Tuple[Any, Any]:
        """Takes one optimization step.

        Args:
          state: The state from `initialize` or from the previous `next`.
          weights: The weights to update, a structure of tensors matching the specs.
          gradients: The gradients of the loss, a structure matching `weights`.

        Returns:
          The pair `(state, weights)` after the step.
        """

    def get_hparams(self, state: Any) -> collections.OrderedDict:
        """Returns the hyperparameters held in `state`, keyed by name.

        Raises:
          NotImplementedError: if the optimizer does not expose hyperparameters.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose hyperparameters")

    def set_hparams(self, state: Any, hparams: Mapping[str, Any]) -> Any:
        """Returns `state` with the hyperparameters in `hparams` replaced.

        Raises:
          NotImplementedError: if the optimizer does not expose hyperparameters.
        """
        raise NotImplementedError(f"{type(self).__name__} does not expose hyperparameters")


def check_hparam(
    value: Any,
    name: str,
    context: str,
    *,
    upper: Optional[float] = None,
    upper_inclusive: bool = False,
) -> float:
    """Checks a hyperparameter given at build time and returns it as a float.

    The value must be a finite real number `>= 0`, and below `upper` (or at most
    `upper` when `upper_inclusive`) when `upper` is given.

    >>> check_hparam(0.9, "beta_1", "build_adam", upper=1.0)
    0.9
    >>> check_hparam(1.0, "beta_1", "build_adam", upper=1.0)
    Traceback (most recent call last):
    ...
    ValueError: build_adam: beta_1 must be in [0, 1), got 1.0

    Raises:
      TypeError: if `value` is not a real number.
      ValueError: if `value` is out of range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{context}: expected {name} to be a float, got {value!r} of type "
            f"{type(value).__name__}"
        )
    value = float(value)
    if upper is None:
        valid, bounds = value >= 0.0 and not math.isinf(value), ">= 0"
    elif upper_inclusive:
        valid, bounds = 0.0 <= value <= upper, f"in [0, {upper:g}]"
    else:
        valid, bounds = 0.0 <= value < upper, f"in [0, {upper:g})"
    if not valid:
        raise ValueError(f"{context}: {name} must be {bounds}, got {value!r}")
    return value


def hparams_to_tensors(hparams: Mapping[str, float]) -> collections.OrderedDict:
    """The hyperparameters as float32 scalar tensors, in the same order.

    >>> hparams_to_tensors({"learning_rate": 0.5})["learning_rate"].numpy()
    0.5
    """
    return collections.OrderedDict(
        (key, tf.constant(value, tf.float32)) for key, value in hparams.items()
    )


def select_hparams(state: Mapping[str, Any], keys: Sequence[str]) -> collections.OrderedDict:
    """The entries of `state` under `keys`, in that order (`get_hparams`).

    >>> select_hparams({"learning_rate": 0.1, "accumulator": [0.0]}, ["learning_rate"])
    OrderedDict([('learning_rate', 0.1)])
    """
    return collections.OrderedDict((key, state[key]) for key in keys)


def replace_hparams(
    state: Mapping[str, Any], hparams: Mapping[str, Any], keys: Sequence[str], context: str
) -> collections.OrderedDict:
    """A copy of `state` with some hyperparameters replaced (`set_hparams`).

    The new values become float32 tensors; entries not in `hparams` are kept.

    >>> state = collections.OrderedDict(learning_rate=0.1, momentum=0.9)
    >>> replace_hparams(state, {"learning_rate": 0.5}, list(state), "sgdm")["learning_rate"]
    <tf.Tensor: shape=(), dtype=float32, numpy=0.5>
    >>> replace_hparams(state, {"beta": 0.5}, list(state), "sgdm")
    Traceback (most recent call last):
    ...
    KeyError: "sgdm.set_hparams: unknown hyperparameters ['beta'], expected some of ['learning_rate', 'momentum']"

    Raises:
      TypeError: if `hparams` is not a mapping.
      KeyError: if `hparams` names a key not in `keys`.
    """  # noqa: E501 - the expected error line is as long as the error.
    if not isinstance(hparams, collections.abc.Mapping):
        raise TypeError(
            f"{context}.set_hparams: expected a mapping of hyperparameters, got "
            f"{hparams!r} of type {type(hparams).__name__}"
        )
    unknown = [key for key in hparams if key not in keys]
    if unknown:
        raise KeyError(
            f"{context}.set_hparams: unknown hyperparameters {unknown}, expected some of "
            f"{list(keys)}"
        )
    updated = collections.OrderedDict(state)
    for key, value in hparams.items():
        updated[key] = tf.cast(value, tf.float32)
    return updated


def check_state_keys(state: Any, keys: Sequence[str], context: str) -> None:
    """Checks that `state` is a mapping holding `keys`.

    >>> check_state_keys({"learning_rate": 0.1}, ["learning_rate", "momentum"], "sgdm.next")
    Traceback (most recent call last):
    ...
    ValueError: sgdm.next: expected a state with keys ['learning_rate', 'momentum'], got keys ['learning_rate']

    Raises:
      ValueError: if a key is missing or `state` is not a mapping.
    """  # noqa: E501 - the expected error line is as long as the error.
    if not isinstance(state, collections.abc.Mapping):
        raise ValueError(
            f"{context}: expected a state with keys {list(keys)}, got {describe_structure(state)}"
        )
    if any(key not in state for key in keys):
        raise ValueError(
            f"{context}: expected a state with keys {list(keys)}, got keys {list(state)}"
        )


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _children(value: Any) -> Optional[list]:
    """`(position, child)` pairs of a container, or None for a leaf."""
    if isinstance(value, collections.abc.Mapping):
        return [(f"[{key!r}]", value[key]) for key in value]
    if _is_namedtuple(value):
        return [(f".{field}", getattr(value, field)) for field in value._fields]
    if isinstance(value, (list, tuple)):
        return [(f"[{index}]", element) for index, element in enumerate(value)]
    return None


def _leaves(structure: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    children = _children(structure)
    if children is None:
        yield path, structure
        return
    for position, child in children:
        yield from _leaves(child, path + position)


def describe_structure(structure: Any) -> str:
    """A compact description of a structure: containers as in Python, tensors as types.

    >>> describe_structure({"kernel": tf.zeros([2, 2]), "bias": tf.TensorSpec([2])})
    "{'kernel': float32[2,2], 'bias': float32[2]}"
    >>> describe_structure((tf.constant(1, tf.int64), None))
    '(int64, None)'
    """
    if isinstance(structure, collections.abc.Mapping):
        inner = ", ".join(f"{key!r}: {describe_structure(v)}" for key, v in structure.items())
        return "{" + inner + "}"
    if _is_namedtuple(structure):
        inner = ", ".join(
            f"{field}={describe_structure(getattr(structure, field))}"
            for field in structure._fields
        )
        return f"{type(structure).__name__}({inner})"
    if isinstance(structure, list):
        return "[" + ", ".join(describe_structure(v) for v in structure) + "]"
    if isinstance(structure, tuple):
        inner = ", ".join(describe_structure(v) for v in structure)
        return "(" + inner + ("," if len(structure) == 1 else "") + ")"
    if structure is None:
        return "None"
    dtype = getattr(structure, "dtype", None)
    shape = getattr(structure, "shape", None)
    if dtype is not None and shape is not None:
        try:
            return str(computation_types.TensorType(tf.as_dtype(dtype), tf.TensorShape(shape)))
        except (TypeError, ValueError):
            pass
    return type(structure).__name__


def _first_difference(expected: Any, actual: Any, path: str) -> Optional[Tuple[str, str]]:
    """The position and reason of the first difference, or None if the two match."""
    expected_children = _children(expected)
    actual_children = _children(actual)
    if expected_children is None:
        if actual_children is not None or not hasattr(actual, "dtype"):
            return path, f"expected a {describe_structure(expected)} tensor, got " + (
                describe_structure(actual) if actual_children is not None else repr(actual)
            )
        if tf.as_dtype(actual.dtype) != tf.as_dtype(expected.dtype) or not tf.TensorShape(
            expected.shape
        ).is_compatible_with(actual.shape):
            return path, (
                f"expected {describe_structure(expected)}, got {describe_structure(actual)}"
            )
        return None
    expected_is_mapping = isinstance(expected, collections.abc.Mapping)
    if actual_children is None or expected_is_mapping != isinstance(
        actual, collections.abc.Mapping
    ):
        kind = "a mapping" if expected_is_mapping else "a sequence"
        return path, f"expected {kind}, got {describe_structure(actual)}"
    if expected_is_mapping:
        if set(expected) != set(actual):
            return path, f"expected keys {list(expected)}, got keys {list(actual)}"
        pairs = [(f"[{key!r}]", expected[key], actual[key]) for key in expected]
    else:
        if len(expected_children) != len(actual_children):
            return path, (f"expected {len(expected_children)} elements, got {len(actual_children)}")
        pairs = [
            (position, expected_child, actual_child)
            for (_, expected_child), (position, actual_child) in zip(
                expected_children, actual_children
            )
        ]
    for position, expected_child, actual_child in pairs:
        found = _first_difference(expected_child, actual_child, path + position)
        if found is not None:
            return found
    return None


def check_structure_match(
    expected: Any, actual: Any, *, context: str, expected_name: str, actual_name: str
) -> None:
    """Checks that `actual` has the structure, shapes and dtypes of `expected`.

    Containers may differ in kind (a list matches a tuple of the same length, a dict
    an OrderedDict with the same keys); shapes must be compatible and dtypes equal.

    >>> check_structure_match(
    ...     [tf.zeros([2]), tf.zeros([3])], [tf.zeros([2])],
    ...     context="sgdm.next", expected_name="weights", actual_name="gradients")
    Traceback (most recent call last):
    ...
    ValueError: sgdm.next: gradients do not match the weights: expected [float32[2], float32[3]], got [float32[2]] (at gradients: expected 2 elements, got 1)

    Raises:
      ValueError: naming both structures and the first position where they differ.
    """  # noqa: E501 - the expected error line is as long as the error.
    found = _first_difference(expected, actual, "")
    if found is not None:
        path, reason = found
        raise ValueError(
            f"{context}: {actual_name} do not match the {expected_name}: expected "
            f"{describe_structure(expected)}, got {describe_structure(actual)} "
            f"(at {actual_name}{path}: {reason})"
        )


def check_specs(specs: Any, context: str) -> None:
    """Checks that `specs` is a structure of `tf.TensorSpec`s with fully defined shapes.

    >>> check_specs([tf.TensorSpec([2]), tf.TensorSpec([None])], "adam.initialize")
    Traceback (most recent call last):
    ...
    ValueError: adam.initialize: specs[1] is float32[?], expected a fully defined shape

    Raises:
      TypeError: if a leaf is not a `tf.TensorSpec`.
      ValueError: if a shape is not fully defined.
    """
    for path, leaf in _leaves(specs):
        if not isinstance(leaf, tf.TensorSpec):
            raise TypeError(
                f"{context}: expected specs to be a structure of tf.TensorSpec, got "
                f"{describe_structure(specs)} (specs{path} is {leaf!r})"
            )
        if not leaf.shape.is_fully_defined():
            raise ValueError(
                f"{context}: specs{path} is {describe_structure(leaf)}, expected a fully "
                "defined shape"
            )


def filled(specs: Any, value: float) -> Any:
    """Tensors shaped like `specs`, every element `value`, in the specs' structure.

    >>> filled([tf.TensorSpec([2])], 0.5)
    [<tf.Tensor: shape=(2,), dtype=float32, numpy=array([0.5, 0.5], dtype=float32)>]
    """
    return tf.nest.map_structure(
        lambda spec: tf.fill(spec.shape, tf.cast(value, spec.dtype)), specs
    )


def _to_tensors(structure: Any, name: str, context: str, hint: str) -> Any:
    for path, leaf in _leaves(structure):
        if leaf is None:
            raise ValueError(f"{context}: {name}{path} is None; {hint}")
    return tf.nest.map_structure(tf.convert_to_tensor, structure)


def prepare_step(weights: Any, gradients: Any, context: str) -> Tuple[Any, Any]:
    """Converts weights and gradients to tensors and checks that they match.

    Sparse gradients (`tf.IndexedSlices`) become dense tensors.

    >>> prepare_step([tf.zeros([2]), tf.zeros([])], [tf.ones([2]), None], "sgdm.next")
    Traceback (most recent call last):
    ...
    ValueError: sgdm.next: gradients[1] is None; every weight needs a gradient tensor (zeros where the loss does not depend on it)

    Returns:
      The pair `(weights, gradients)` as structures of tensors.

    Raises:
      ValueError: if a weight or gradient is None, or the two structures differ.
    """  # noqa: E501 - the expected error line is as long as the error.
    weights = _to_tensors(weights, "weights", context, "expected a tensor")
    gradients = _to_tensors(
        gradients,
        "gradients",
        context,
        "every weight needs a gradient tensor (zeros where the loss does not depend on it)",
    )
    check_structure_match(
        weights, gradients, context=context, expected_name="weights", actual_name="gradients"
    )
    return weights, gradients


def check_state_matches_weights(weights: Any, part: Any, key: str, context: str) -> None:
    """Checks that the state entry `key` has the structure, shapes and dtypes of `weights`.

    >>> check_state_matches_weights([tf.zeros([2])], [tf.zeros([3])], "accumulator", "sgdm.next")
    Traceback (most recent call last):
    ...
    ValueError: sgdm.next: state['accumulator'] do not match the weights: expected [float32[2]], got [float32[3]] (at state['accumulator'][0]: expected float32[2], got float32[3]); was the state initialized with specs of other weights?

    Raises:
      ValueError: naming both structures and the first position where they differ.
    """  # noqa: E501 - the expected error line is as long as the error.
    try:
        check_structure_match(
            weights,
            part,
            context=context,
            expected_name="weights",
            actual_name=f"state[{key!r}]",
        )
    except ValueError as error:
        raise ValueError(
            f"{error}; was the state initialized with specs of other weights?"
        ) from None


def map_leaves(fn: Callable[..., Any], *structures: Any, num_outputs: Optional[int] = None) -> Any:
    """Applies `fn` leaf by leaf; the results take the container of the first structure.

    Call it on structures already checked with `check_structure_match` (containers may
    differ in kind, a list and a tuple say). With `num_outputs`, `fn` returns that many
    values per leaf and the result is a tuple of that many structures.

    >>> map_leaves(lambda w, g: w - g, [tf.ones([2])], (tf.ones([2]),))
    [<tf.Tensor: shape=(2,), dtype=float32, numpy=array([0., 0.], dtype=float32)>]
    >>> map_leaves(lambda x: (x, -x), {"b": 1.0}, num_outputs=2)
    ({'b': 1.0}, {'b': -1.0})
    """
    flat = [tf.nest.flatten(structure) for structure in structures]
    results = [fn(*leaves) for leaves in zip(*flat)]
    if num_outputs is None:
        return tf.nest.pack_sequence_as(structures[0], results)
    return tuple(
        tf.nest.pack_sequence_as(structures[0], [result[index] for result in results])
        for index in range(num_outputs)
    )
