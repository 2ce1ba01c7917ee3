"""Client work that trains locally and sends back the change in the model (FedAvg, FedProx).

Each client builds the model, loads the server's weights, runs the client
optimizer over its dataset (for some epochs, at most some steps) and returns the
difference `initial - final` of the trainable weights (a pseudo-gradient the
server optimizer applies), weighted by its example count or uniformly. With a
proximal strength μ > 0 the local loss gets the FedProx term
`μ/2 · ||w - w_initial||²` (Li et al., 2020, "Federated Optimization in
Heterogeneous Networks"). A client whose update is not finite sends zeros with
weight 0, so one diverged client cannot poison the round.
"""

from __future__ import annotations

import collections
from typing import Any
from typing import Optional

import tensorflow as tf

from tffl.core import computation_impl
from tffl.core import federated_computation
from tffl.core import intrinsics
from tffl.core import tensorflow_computation
from tffl.learning import client_weighting as client_weighting_lib
from tffl.learning import optimizers as optimizers_lib
from tffl.learning.metrics import aggregator as metrics_aggregator_lib
from tffl.learning.models import model_signature
from tffl.learning.models import model_weights as model_weights_lib
from tffl.learning.templates import client_works
from tffl.templates import measured_process
from tffl.types import computation_types
from tffl.types import placements


def lean_pipeline(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The same dataset without tf.data's default rewrites and autotuning.

    A client's pipeline is small and iterated once per round: setting those up
    costs more than they save (a digits round runs about a fifth faster).
    """
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    options.autotune.enabled = False
    return dataset.with_options(options)


def prepare_dataset(dataset: tf.data.Dataset, epochs: int, max_steps: Optional[int]):
    """The client's batches for one round: `epochs` passes, cut at `max_steps` batches."""
    dataset = lean_pipeline(dataset)
    if epochs != 1:
        dataset = dataset.repeat(epochs)
    if max_steps is not None:
        dataset = dataset.take(max_steps)
    return dataset


def check_training_options(
    epochs: int, max_steps: Optional[int], epochs_name: str = "client_epochs"
) -> None:
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"{epochs_name}: expected a positive int, got {epochs!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_client_steps: expected a positive int or None, got {max_steps!r}")


def client_optimizer(optimizer: Any, name: str = "client_optimizer_fn"):
    """The client optimizer as a tffl `Optimizer`, or as a Keras optimizer function.

    A Keras optimizer is created once per client per round and stepped in place,
    which is how Keras optimizers are meant to run inside a training loop.
    """
    if isinstance(optimizer, optimizers_lib.Optimizer):
        return optimizer
    if callable(optimizer) and not isinstance(optimizer, tf.keras.optimizers.Optimizer):
        return optimizer
    raise TypeError(
        f"{name}: expected a tffl.learning.optimizers.Optimizer or a "
        "no-argument function returning a tf.keras.optimizers.Optimizer, "
        f"got {type(optimizer).__name__}"
    )


def train_on_dataset(model, optimizer, dataset, proximal_strength: float = 0.0):
    """Trains `model` in place over `dataset`; returns the number of examples seen (int64).

    Runs inside a TensorFlow computation (the loop becomes a graph loop).
    """
    trainable = model.trainable_variables
    initial = [tf.identity(v) for v in trainable]
    functional = isinstance(optimizer, optimizers_lib.Optimizer)
    if functional:
        # Tuples, not lists, throughout: a tf.data loop stacks a list into one tensor.
        state = optimizer.initialize(tuple(tf.TensorSpec(v.shape, v.dtype) for v in trainable))
    else:
        # The user's function builds a Python object: autograph has nothing to convert.
        keras_optimizer = tf.autograph.experimental.do_not_convert(optimizer)()
        if not isinstance(keras_optimizer, tf.keras.optimizers.Optimizer):
            raise TypeError(
                "client_optimizer_fn: expected it to return a tf.keras.optimizers.Optimizer, "
                f"got {type(keras_optimizer).__name__}"
            )
        if hasattr(keras_optimizer, "build"):
            # Its slot variables now, not on the first step inside the loop, so a
            # lowered round can carry them through the loop as values.
            keras_optimizer.build(trainable)
        state = ()
    num_examples = tf.constant(0, tf.int64)
    # Looping over an iterator makes a graph while-loop; looping over the dataset
    # itself makes a tf.data scan, whose per-batch function calls cost about five
    # times as much for small models.
    for batch in iter(dataset):
        with tf.GradientTape() as tape:
            output = model.forward_pass(batch, training=True)
            loss = output.loss
            if proximal_strength:
                distance = tf.add_n(
                    [tf.reduce_sum(tf.square(v - w)) for v, w in zip(trainable, initial)]
                )
                loss = loss + 0.5 * proximal_strength * distance
        gradients = tape.gradient(loss, trainable)
        if functional:
            state, updated = optimizer.next(
                state, tuple(tf.identity(v) for v in trainable), tuple(gradients)
            )
            for variable, value in zip(trainable, updated):
                variable.assign(value)
        else:
            keras_optimizer.apply_gradients(zip(gradients, trainable))
        num_examples += tf.cast(output.num_examples, tf.int64)
    return num_examples


def zero_if_not_finite(update, weight):
    """`(update, weight)`, or zeros and weight 0 when any value of the update is not finite."""
    # The extremes are finite exactly when every value is (TensorFlow's max and min
    # propagate NaN): two float reductions, where `reduce_all` over booleans costs
    # several times as much.
    extremes = [
        reduce(u)
        for u in update
        if u.shape.num_elements() != 0
        for reduce in (tf.reduce_max, tf.reduce_min)
    ]
    if not extremes:
        return update, weight
    finite = tf.reduce_all(tf.math.is_finite(tf.stack(extremes)))
    # A branch passes the update through; `tf.where` would copy every tensor.
    return tf.cond(
        finite,
        lambda: (list(update), weight),
        lambda: ([tf.zeros_like(u) for u in update], tf.zeros_like(weight)),
    )


def build_model_delta_client_work(
    model_fn: Any,
    optimizer: Any,
    client_weighting: client_weighting_lib.ClientWeighting,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator] = None,
    proximal_strength: float = 0.0,
    client_epochs: int = 1,
    max_client_steps: Optional[int] = None,
) -> client_works.ClientWorkProcess:
    """Client work for FedAvg and FedProx (see the module docstring).

    Args:
      model_fn: a no-argument function returning a new `VariableModel`, or a
        `FunctionalModel`.
      optimizer: a `tffl.learning.optimizers.Optimizer`, or a no-argument function
        returning a `tf.keras.optimizers.Optimizer`.
      client_weighting: a `ClientWeighting`.
      metrics_aggregator: `(finalizers, unfinalized type) -> federated computation`
        (default `sum_then_finalize`).
      proximal_strength: μ of FedProx; 0 is FedAvg.
      client_epochs: passes over each client's dataset per round.
      max_client_steps: at most this many batches per client per round.

    The measurements are `OrderedDict(train=<the finalized model metrics>)`.
    """
    model_fn = model_signature.as_model_fn(model_fn)
    optimizer = client_optimizer(optimizer)
    if not isinstance(client_weighting, client_weighting_lib.ClientWeighting):
        raise TypeError(
            f"client_weighting: expected a tffl.learning.ClientWeighting, "
            f"got {type(client_weighting).__name__}"
        )
    if proximal_strength < 0:
        raise ValueError(f"proximal_strength: expected a value >= 0, got {proximal_strength}")
    check_training_options(client_epochs, max_client_steps)
    signature = model_signature.inspect_model(model_fn)
    data_type = computation_types.SequenceType(signature.batch_type)

    @tensorflow_computation.tf_computation(signature.weights_type, data_type)
    def client_update(initial_weights, dataset):
        model = model_fn()
        model_weights_lib.ModelWeights(
            list(initial_weights.trainable), list(initial_weights.non_trainable)
        ).assign_weights_to(model)
        batches = prepare_dataset(dataset, client_epochs, max_client_steps)
        num_examples = train_on_dataset(model, optimizer, batches, proximal_strength)
        update = [
            initial - tf.identity(final)
            for initial, final in zip(initial_weights.trainable, model.trainable_variables)
        ]
        if client_weighting is client_weighting_lib.ClientWeighting.NUM_EXAMPLES:
            weight = tf.cast(num_examples, tf.float32)
        else:
            weight = tf.constant(1.0)
        update, weight = zero_if_not_finite(update, weight)
        return (
            client_works.ClientResult(update, weight),
            model.report_local_unfinalized_metrics(),
        )

    return build_client_work_process(
        client_update, signature, metrics_aggregator, measurement_name="train"
    )


def build_client_work_process(
    client_update: computation_impl.ConcreteComputation,
    signature: model_signature.ModelSignature,
    metrics_aggregator: Optional[metrics_aggregator_lib.MetricsAggregator],
    measurement_name: str,
) -> client_works.ClientWorkProcess:
    """A stateless client work process around `client_update: (<W,D*> -> <ClientResult,U>)`."""
    aggregate_metrics = (metrics_aggregator or metrics_aggregator_lib.sum_then_finalize)(
        signature.metric_finalizers, signature.unfinalized_metrics_type
    )
    parameter = client_update.type_signature.parameter

    @federated_computation.federated_computation()
    def initialize():
        return intrinsics.federated_value((), placements.SERVER)

    @federated_computation.federated_computation(
        initialize.type_signature.result,
        computation_types.FederatedType(parameter[0], placements.CLIENTS),
        computation_types.FederatedType(parameter[1], placements.CLIENTS),
    )
    def next_fn(state, weights, client_data):
        outputs = intrinsics.federated_map(
            client_update, intrinsics.federated_zip((weights, client_data))
        )
        metrics = aggregate_metrics(outputs[1])
        return measured_process.MeasuredProcessOutput(
            state,
            outputs[0],
            intrinsics.federated_zip(collections.OrderedDict([(measurement_name, metrics)])),
        )

    return client_works.ClientWorkProcess(initialize, next_fn)
