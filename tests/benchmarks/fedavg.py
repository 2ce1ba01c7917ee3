"""W3: a FedAvg round, tffl's `build_weighted_fed_avg` against a hand-written tf.function.

The data is `tffl.simulation.datasets.synthetic` (EMNIST-shaped: 28×28×1 float32
images, 62 classes, labels a fixed function of the pixels). Both sides train on
the same arrays: tffl gets one `tf.data.Dataset` of batches per client, the
baseline the clients' examples stacked as `x: float32[K, n, 28, 28, 1]`,
`y: int32[K, n]`.

The baseline is the floor: the model written with `tf.nn` ops on plain tensors,
and one tf.function that, for each client (a graph loop over `tf.range(K)`),
takes the batches in order, steps SGD on the mean cross-entropy, and adds
`n_k · (w_server - w_k)` to a running sum; the server then applies SGD to the
weighted mean delta. For the linear model a second form trains all clients at
once (batched matmuls over a leading client axis); the faster form is the floor.
That is what FedAvg computes, so the runner checks that a tffl round and a
baseline round give the same weights (`max_weight_difference`).
"""

from __future__ import annotations

import collections
import dataclasses
import math
from typing import Callable
from typing import Dict
from typing import List
from typing import Sequence
from typing import Tuple

import numpy as np
import tensorflow as tf

from tests.benchmarks import measure
import tffl
from tffl.simulation.datasets import synthetic

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 62
MODELS = ("linear", "cnn")


@dataclasses.dataclass(frozen=True)
class RoundConfig:
    """One FedAvg workload.

    Attributes:
      model: `'linear'` (Flatten, Dense 62) or `'cnn'` (Conv 5×5 32 relu, MaxPool 2,
        Conv 5×5 64 relu, MaxPool 2, Flatten, Dense 512 relu, Dense 62).
      num_clients: clients per round (K).
      examples_per_client: n.
      batch_size: client batch size.
      client_learning_rate: client SGD step.
      server_learning_rate: server SGD step.
      seed: seeds the data and the model's initial weights.
    """

    model: str = "linear"
    num_clients: int = 10
    examples_per_client: int = 100
    batch_size: int = 20
    client_learning_rate: float = 0.02
    server_learning_rate: float = 1.0
    seed: int = 0


def client_data(config: RoundConfig) -> Tuple[List[tf.data.Dataset], np.ndarray, np.ndarray]:
    """`(datasets, x, y)`: tffl's per-client batches and the same examples stacked.

    `x` is `float32[K, n, 28, 28, 1]`, `y` is `int32[K, n]`; dataset `k` yields
    `OrderedDict(x=x[k, i:i+b], y=y[k, i:i+b])` for `i = 0, b, 2b, ...`.
    """
    train, _ = synthetic.load_data(
        num_clients=config.num_clients,
        examples_per_client=config.examples_per_client,
        num_classes=NUM_CLASSES,
        seed=config.seed,
        image_shape=IMAGE_SHAPE,
        test_examples_per_client=1,
    )
    xs, ys = [], []
    for client_id in train.client_ids:
        examples = next(
            iter(train.create_tf_dataset_for_client(client_id).batch(config.examples_per_client))
        )
        xs.append(examples["pixels"].numpy())
        ys.append(examples["label"].numpy())
    x, y = np.stack(xs), np.stack(ys)
    datasets = [
        tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x[k], y=y[k])).batch(
            config.batch_size
        )
        for k in range(config.num_clients)
    ]
    return datasets, x, y


def keras_model(model: str, seed: int) -> tf.keras.Model:
    """The Keras form of `model`, its initial weights fixed by `seed`."""

    def init(offset):
        return tf.keras.initializers.GlorotUniform(seed=seed * 100 + offset)

    layers = [tf.keras.layers.InputLayer(input_shape=IMAGE_SHAPE)]
    if model == "cnn":
        layers += [
            tf.keras.layers.Conv2D(
                32, 5, padding="same", activation="relu", kernel_initializer=init(1)
            ),
            tf.keras.layers.MaxPool2D(2),
            tf.keras.layers.Conv2D(
                64, 5, padding="same", activation="relu", kernel_initializer=init(2)
            ),
            tf.keras.layers.MaxPool2D(2),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(512, activation="relu", kernel_initializer=init(3)),
        ]
    elif model == "linear":
        layers.append(tf.keras.layers.Flatten())
    else:
        raise ValueError(f"model: expected one of {MODELS}, got {model!r}")
    layers.append(tf.keras.layers.Dense(NUM_CLASSES, kernel_initializer=init(9)))
    return tf.keras.Sequential(layers)


def build_process(config: RoundConfig) -> tffl.learning.templates.LearningProcess:
    """tffl's FedAvg process for `config` (Keras model, SGD on clients and server)."""

    def model_fn():
        return tffl.learning.models.from_keras_model(
            keras_model(config.model, config.seed),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            input_spec=collections.OrderedDict(
                x=tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32),
                y=tf.TensorSpec([None], tf.int32),
            ),
        )

    return tffl.learning.algorithms.build_weighted_fed_avg(
        model_fn,
        tffl.learning.optimizers.build_sgdm(config.client_learning_rate),
        tffl.learning.optimizers.build_sgdm(config.server_learning_rate),
    )


def trainable_weights(process, state) -> List[np.ndarray]:
    """The trainable weights of a tffl FedAvg state, in Keras order."""
    return [np.asarray(w) for w in process.get_model_weights(state).trainable]


# The baseline: the same models as functions of a weight tuple (Keras order).


def linear_logits(weights: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
    kernel, bias = weights
    return tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel) + bias


def cnn_logits(weights: Sequence[tf.Tensor], x: tf.Tensor) -> tf.Tensor:
    conv1, conv1_bias, conv2, conv2_bias, dense1, dense1_bias, dense2, dense2_bias = weights
    h = tf.nn.relu(tf.nn.conv2d(x, conv1, 1, "SAME") + conv1_bias)
    h = tf.nn.max_pool2d(h, 2, 2, "VALID")
    h = tf.nn.relu(tf.nn.conv2d(h, conv2, 1, "SAME") + conv2_bias)
    h = tf.nn.max_pool2d(h, 2, 2, "VALID")
    h = tf.reshape(h, [-1, dense1.shape[0]])
    h = tf.nn.relu(tf.matmul(h, dense1) + dense1_bias)
    return tf.matmul(h, dense2) + dense2_bias


LOGITS = {"linear": linear_logits, "cnn": cnn_logits}


def _loss(logits, labels):
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )


def baseline_round_loop(config: RoundConfig) -> Callable:
    """`round(weights, x, y) -> new weights`: one tf.function, a graph loop over clients."""
    logits_fn = LOGITS[config.model]
    batch = config.batch_size
    client_lr = config.client_learning_rate
    server_lr = config.server_learning_rate

    @tf.function
    def round_fn(weights, x, y):
        weights = tuple(weights)
        examples = x.shape[1]
        steps = math.ceil(examples / batch)
        count = tf.constant(float(examples))
        sums = tuple(tf.zeros_like(w) for w in weights)
        total = tf.constant(0.0)
        for k in tf.range(tf.shape(x)[0]):
            local = weights
            for step in tf.range(steps):
                start = step * batch
                inputs, labels = x[k, start : start + batch], y[k, start : start + batch]
                with tf.GradientTape() as tape:
                    tape.watch(local)
                    loss = _loss(logits_fn(local, inputs), labels)
                gradients = tape.gradient(loss, local)
                local = tuple(w - client_lr * g for w, g in zip(local, gradients))
            sums = tuple(s + (w0 - w) * count for s, w0, w in zip(sums, weights, local))
            total += count
        return tuple(w - server_lr * (s / total) for w, s in zip(weights, sums))

    return round_fn


def baseline_round_batched(config: RoundConfig) -> Callable:
    """The linear model's round with all clients trained at once (a leading client axis)."""
    if config.model != "linear":
        raise ValueError(f"the batched baseline is for the linear model, not {config.model!r}")
    batch = config.batch_size
    client_lr = config.client_learning_rate
    server_lr = config.server_learning_rate

    @tf.function
    def round_fn(weights, x, y):
        kernel, bias = weights
        num_clients, examples = x.shape[0], x.shape[1]
        pixels = tf.reshape(x, [num_clients, examples, -1])
        local = (
            tf.repeat(kernel[None], num_clients, axis=0),
            tf.repeat(bias[None], num_clients, axis=0),
        )
        for start in range(0, examples, batch):
            inputs, labels = pixels[:, start : start + batch], y[:, start : start + batch]
            with tf.GradientTape() as tape:
                tape.watch(local)
                logits = tf.matmul(inputs, local[0]) + local[1][:, None, :]
                # Clients' losses are independent: the gradient of their sum is each
                # client's own gradient.
                per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=labels, logits=logits
                )
                loss = tf.reduce_sum(tf.reduce_mean(per_example, axis=1))
            gradients = tape.gradient(loss, local)
            local = tuple(w - client_lr * g for w, g in zip(local, gradients))
        count = tf.constant(float(examples))
        total = count * num_clients
        new = []
        for w, w_local in zip(weights, local):
            mean_delta = tf.reduce_sum((w[None] - w_local) * count, axis=0) / total
            new.append(w - server_lr * mean_delta)
        return tuple(new)

    return round_fn


def baseline_rounds(config: RoundConfig) -> Dict[str, Callable]:
    """The baseline's forms for `config`: name -> `round(weights, x, y)`."""
    forms = {"loop": baseline_round_loop(config)}
    if config.model == "linear":
        forms["batched"] = baseline_round_batched(config)
    return forms


def one_round_each(config: RoundConfig):
    """One round of tffl and of each baseline form from the same initial weights.

    Returns:
      `(initial, tffl, baselines)`: lists of arrays in Keras order, and a dict
      form -> list of arrays.
    """
    datasets, x, y = client_data(config)
    process = build_process(config)
    state = process.initialize()
    initial = trainable_weights(process, state)
    after = trainable_weights(process, process.next(state, datasets).state)
    start = tuple(tf.constant(w) for w in initial)
    x, y = tf.constant(x), tf.constant(y)
    baselines = {
        name: [w.numpy() for w in round_fn(start, x, y)]
        for name, round_fn in baseline_rounds(config).items()
    }
    return initial, after, baselines


def max_difference(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two lists of same-shaped arrays."""
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def max_weight_difference(config: RoundConfig) -> Dict[str, float]:
    """For each baseline form, the largest |tffl - baseline| of the weights after one round."""
    _, after, baselines = one_round_each(config)
    return {name: max_difference(after, weights) for name, weights in baselines.items()}


class RoundRunner:
    """Rounds of one side, each round starting from the weights the last one left."""

    def __init__(self, step: Callable, start):
        self._step = step
        self.state = start

    def __call__(self):
        self.state = self._step(self.state)
        return self.state


def _traced_until(first, counts, again: Callable[[], object], goal, max_traces: int):
    """`(value, counts, traces)`: `again()` called, each call a new trace, until the
    counts of max-pool gradients on oneDNN it instantiates meet `goal(counts)`;
    `max_traces` calls in all, counting the first (`first`, with its `counts`)."""
    value, traces = first, 1
    while not goal(counts) and traces < max_traces:
        value, counts = measure.pool_gradients_on_onednn(again)
        traces += 1
    return value, counts, traces


def benchmark(config: RoundConfig, repeats: int, warmup: int = 1, max_traces: int = 8) -> dict:
    """Cold and per-round times of tffl and of each baseline form for `config`.

    Cold is the first round from nothing: building the process (or tracing the
    tf.function) and running it once. Then rounds are timed in turns, tffl and
    baseline, after `warmup` more of each.

    TF's oneDNN pass leaves each max-pool gradient of a trace on the slower Eigen
    kernel by chance (`measure.pool_gradients_on_onednn`). Like is compared with
    like, at the best TF gives: the tffl process is built again, up to
    `max_traces` times in all, until all its max-pool gradients run on oneDNN (or
    the last try), then the loop form is traced again, as often, until as many of
    its gradients run on oneDNN as of tffl's.

    Returns:
      a dict: `tffl_cold_s`, `baseline_cold_s` (the first build and trace),
      `tffl_s` (median round), `baseline_s` (the fastest form's median),
      `baseline_form`, `baseline_forms_s`, `tffl_samples_s`, `pool_gradients_on_onednn`
      (`{"tffl": [on oneDNN, total], "baseline": [...]}`), `traces` (`{"tffl": n,
      "baseline": n}`), `peak_rss_mib` (so far in this process).
    """
    datasets, x, y = client_data(config)
    x, y = tf.constant(x), tf.constant(y)

    def tffl_cold():
        process = build_process(config)
        return process, process.next(process.initialize(), datasets).state

    first, tffl_cold_s = measure.timed(lambda: measure.pool_gradients_on_onednn(tffl_cold))
    (process, state), tffl_pools, tffl_traces = _traced_until(
        *first, tffl_cold, lambda counts: counts[0] == counts[1], max_traces
    )
    initial = tuple(tf.constant(w) for w in trainable_weights(process, state))
    forms = baseline_rounds(config)

    def baseline_trace():
        forms["loop"] = baseline_round_loop(config)
        return forms["loop"](initial, x, y)

    first, baseline_cold_s = measure.timed(
        lambda: measure.pool_gradients_on_onednn(lambda: forms["loop"](initial, x, y))
    )
    _, baseline_pools, baseline_traces = _traced_until(
        *first, baseline_trace, lambda counts: counts == tffl_pools, max_traces
    )
    runners = {"tffl": RoundRunner(lambda s: process.next(s, datasets).state, state)}
    for name, round_fn in forms.items():
        runners[name] = RoundRunner(lambda w, round_fn=round_fn: round_fn(w, x, y), initial)
    timings = measure.interleaved(runners, repeats, warmup, min_sample_s=0)
    forms_s = {name: timings[name].median for name in forms}
    fastest = min(forms_s, key=forms_s.get)
    return {
        "tffl_cold_s": tffl_cold_s,
        "baseline_cold_s": baseline_cold_s,
        "tffl_s": timings["tffl"].median,
        "baseline_s": forms_s[fastest],
        "baseline_form": fastest,
        "baseline_forms_s": forms_s,
        "tffl_samples_s": timings["tffl"].samples,
        "pool_gradients_on_onednn": {
            "tffl": list(tffl_pools),
            "baseline": list(baseline_pools),
        },
        "traces": {"tffl": tffl_traces, "baseline": baseline_traces},
        "peak_rss_mib": measure.peak_rss_mib(),
    }
