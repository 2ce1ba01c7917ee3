"""The main job: federated training of an image classifier, with metrics, checkpoints and resume.

Trains with FedAvg on one of three datasets (scikit-learn's handwritten digits by
default, which ships offline; a seeded synthetic EMNIST-shaped set; or federated
EMNIST from its published file), evaluates on held-out test clients, and writes
CSV metrics, TensorBoard events and checkpoints under --root_output_dir. Run it
again with the same flags and output directory to resume where it stopped.

Run: `make run`, or e.g.
  python examples/emnist_fedavg.py --rounds=20 --aggregator=dp --dp_noise_multiplier=0.5
  python examples/emnist_fedavg.py --executor=remote --workers=127.0.0.1:8000,127.0.0.1:8001
"""

import collections
import os
import time

from absl import app
from absl import flags
import tensorflow as tf

import tffl

_DATASET = flags.DEFINE_enum(
    "dataset", "digits", ["digits", "synthetic", "emnist"], "Which federated dataset to train on."
)
_MODEL = flags.DEFINE_enum("model", "mlp", ["mlp", "cnn", "linear"], "The model to train.")
_ROUNDS = flags.DEFINE_integer("rounds", 50, "Rounds of federated training.")
_CLIENTS_PER_ROUND = flags.DEFINE_integer("clients_per_round", 10, "Clients sampled each round.")
_CLIENT_EPOCHS = flags.DEFINE_integer("client_epochs", 2, "Passes over a client's data per round.")
_CLIENT_BATCH_SIZE = flags.DEFINE_integer("client_batch_size", 8, "Batch size on the clients.")
_CLIENT_OPTIMIZER = flags.DEFINE_enum(
    "client_optimizer", "sgd", ["sgd", "adam", "adagrad", "yogi", "rmsprop"], "Client optimizer."
)
_CLIENT_LEARNING_RATE = flags.DEFINE_float("client_learning_rate", 0.2, "Client learning rate.")
_SERVER_OPTIMIZER = flags.DEFINE_enum(
    "server_optimizer", "sgd", ["sgd", "adam", "adagrad", "yogi", "rmsprop"], "Server optimizer."
)
_SERVER_LEARNING_RATE = flags.DEFINE_float("server_learning_rate", 1.0, "Server learning rate.")
_AGGREGATOR = flags.DEFINE_enum(
    "aggregator",
    "mean",
    ["mean", "dp", "secure", "quantized"],
    "How client updates are aggregated: a weighted mean; differentially private "
    "(Gaussian noise, adaptive clipping unless --dp_clip is set); secure aggregation "
    "(masked sums); or quantized (8-bit stochastic quantization).",
)
_DP_NOISE_MULTIPLIER = flags.DEFINE_float(
    "dp_noise_multiplier", 0.5, "With --aggregator=dp: noise standard deviation / clip."
)
_DP_CLIP = flags.DEFINE_float(
    "dp_clip", None, "With --aggregator=dp: a fixed L2 clip; adaptive clipping when unset."
)
_EXECUTOR = flags.DEFINE_enum(
    "executor", "local", ["local", "remote"], "Run in this process, or on tffl-workers."
)
_WORKERS = flags.DEFINE_list(
    "workers", [], "With --executor=remote: the workers' host:port addresses."
)
_ROOT_OUTPUT_DIR = flags.DEFINE_string(
    "root_output_dir",
    "/tmp/tffl/emnist_fedavg",
    "Where metrics.csv, TensorBoard events (tensorboard/) and checkpoints/ go.",
)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the model initialization and client sampling.")

# The δ of the (ε, δ) reported with --aggregator=dp.
_DP_DELTA = 1e-5

_OPTIMIZERS = {
    "sgd": tffl.learning.optimizers.build_sgdm,
    "adam": tffl.learning.optimizers.build_adam,
    "adagrad": tffl.learning.optimizers.build_adagrad,
    "yogi": tffl.learning.optimizers.build_yogi,
    "rmsprop": tffl.learning.optimizers.build_rmsprop,
}


def load_dataset(name: str, seed: int):
    """(train, test) ClientData and the number of classes."""
    if name == "digits":
        return (*tffl.simulation.datasets.digits.load_data(seed=seed), 10)
    if name == "synthetic":
        return (*tffl.simulation.datasets.synthetic.load_data(seed=seed), 62)
    return (*tffl.simulation.datasets.emnist.load_data(only_digits=False), 62)


def image_shape(client_data) -> tuple:
    shape = tuple(client_data.element_type_structure["pixels"].shape)
    return shape if len(shape) == 3 else (*shape, 1)


def build_model_fn(model: str, shape: tuple, num_classes: int, seed: int):
    """A `model_fn` building the chosen Keras model, seeded so runs repeat."""
    input_spec = collections.OrderedDict(
        x=tf.TensorSpec([None, *shape], tf.float32), y=tf.TensorSpec([None], tf.int32)
    )

    def init(offset):
        return tf.keras.initializers.GlorotUniform(seed=seed * 100 + offset)

    def keras_model():
        layers = [tf.keras.layers.InputLayer(input_shape=shape)]
        if model == "cnn":
            layers += [
                tf.keras.layers.Conv2D(32, 5, padding="same", activation="relu",
                                       kernel_initializer=init(1)),
                tf.keras.layers.MaxPool2D(2, padding="same"),
                tf.keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                                       kernel_initializer=init(2)),
                tf.keras.layers.MaxPool2D(2, padding="same"),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(512, activation="relu", kernel_initializer=init(3)),
            ]  # fmt: skip
        elif model == "mlp":
            layers += [
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(64, activation="relu", kernel_initializer=init(1)),
            ]
        else:
            layers += [tf.keras.layers.Flatten()]
        layers.append(tf.keras.layers.Dense(num_classes, kernel_initializer=init(9)))
        return tf.keras.Sequential(layers)

    def model_fn():
        return tffl.learning.models.from_keras_model(
            keras_model(),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            input_spec=input_spec,
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    return model_fn


def preprocess_fn(shape: tuple, batch_size: int, epochs_seed: int = 0):
    def preprocess(dataset):
        return (
            dataset.shuffle(100, seed=epochs_seed)
            .batch(batch_size)
            .map(
                lambda e: collections.OrderedDict(
                    x=tf.reshape(e["pixels"], [-1, *shape]), y=tf.cast(e["label"], tf.int32)
                )
            )
        )

    return preprocess


def build_aggregator(name: str, clients_per_round: int):
    """The model aggregator, and whether the algorithm must weight clients uniformly."""
    if name == "mean":
        return tffl.aggregators.MeanFactory(), False
    if name == "dp":
        if _DP_CLIP.value is not None:
            factory = tffl.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
                _DP_NOISE_MULTIPLIER.value, clients_per_round, _DP_CLIP.value
            )
            return factory, True
        return tffl.learning.dp_aggregator(_DP_NOISE_MULTIPLIER.value, clients_per_round), True
    if name == "secure":
        # Each coordinate of an update is clipped to [-1, 1] and summed with masks; the
        # mean is unweighted so that the bound applies to the updates themselves.
        return (
            tffl.aggregators.UnweightedMeanFactory(
                value_sum_factory=tffl.aggregators.SecureSumFactory(upper_bound_threshold=1.0)
            ),
            True,
        )
    return tffl.learning.compression_aggregator(), False


def main(argv):
    del argv
    started = time.time()
    if _EXECUTOR.value == "remote":
        if not _WORKERS.value:
            raise app.UsageError("--executor=remote needs --workers=host:port,...")
        tffl.backends.remote.set_context(_WORKERS.value)
    train, test, num_classes = load_dataset(_DATASET.value, _SEED.value)
    shape = image_shape(train)
    model_fn = build_model_fn(_MODEL.value, shape, num_classes, _SEED.value)
    aggregator, uniform = build_aggregator(_AGGREGATOR.value, _CLIENTS_PER_ROUND.value)
    client_optimizer = _OPTIMIZERS[_CLIENT_OPTIMIZER.value](_CLIENT_LEARNING_RATE.value)
    server_optimizer = _OPTIMIZERS[_SERVER_OPTIMIZER.value](_SERVER_LEARNING_RATE.value)
    build = (
        tffl.learning.algorithms.build_unweighted_fed_avg
        if uniform
        else tffl.learning.algorithms.build_weighted_fed_avg
    )
    process = build(
        model_fn,
        client_optimizer,
        server_optimizer,
        model_aggregator=aggregator,
        client_epochs=_CLIENT_EPOCHS.value,
    )

    sample_ids = tffl.simulation.build_uniform_sampling_fn(
        train.client_ids, replace=False, random_seed=_SEED.value
    )

    def client_selection_fn(round_num):
        preprocess = preprocess_fn(shape, _CLIENT_BATCH_SIZE.value, _SEED.value + round_num)
        return [
            preprocess(train.create_tf_dataset_for_client(client_id))
            for client_id in sample_ids(round_num, _CLIENTS_PER_ROUND.value)
        ]

    test_batches = preprocess_fn(shape, 64)(test.create_tf_dataset_from_all_clients())

    def evaluation_fn(state, round_num):
        del round_num
        metrics = tffl.learning.baselines.evaluate_centralized(
            model_fn, process.get_model_weights(state), test_batches
        )
        return collections.OrderedDict(
            test_accuracy=metrics["sparse_categorical_accuracy"], test_loss=metrics["loss"]
        )

    round_metrics_fn = None
    if _AGGREGATOR.value == "dp":
        # The privacy spent so far, recorded with each round's metrics.
        tracker = tffl.learning.privacy.EpsilonTracker(
            noise_multiplier=_DP_NOISE_MULTIPLIER.value,
            clients_per_round=_CLIENTS_PER_ROUND.value,
            population=len(train.client_ids),
            delta=_DP_DELTA,
        )

        def round_metrics_fn(round_num):
            return collections.OrderedDict(epsilon=tracker.after_round(round_num))

    output_dir = _ROOT_OUTPUT_DIR.value
    os.makedirs(output_dir, exist_ok=True)
    state, metrics = tffl.simulation.run_training(
        process,
        client_selection_fn,
        total_rounds=_ROUNDS.value,
        evaluation_fn=evaluation_fn,
        checkpoint_dir=os.path.join(output_dir, "checkpoints"),
        metrics_managers=[
            tffl.simulation.CSVMetricsManager(os.path.join(output_dir, "metrics.csv")),
            tffl.simulation.TensorBoardManager(os.path.join(output_dir, "tensorboard")),
        ],
        rounds_per_checkpoint=5,
        rounds_per_evaluation=10,
        round_metrics_fn=round_metrics_fn,
    )
    final = evaluation_fn(state, _ROUNDS.value)
    # Resuming a run that already reached --rounds trains no round, so there is no loss.
    train_metrics = metrics.get("client_work", {}).get("train", {})
    loss = f"train_loss={train_metrics['loss']:.4f} " if "loss" in train_metrics else ""
    line = (
        f"final: rounds={_ROUNDS.value} test_accuracy={final['test_accuracy']:.4f} "
        f"{loss}seconds={time.time() - started:.1f}"
    )
    if _AGGREGATOR.value == "dp":
        epsilon = tffl.learning.privacy.compute_epsilon(
            noise_multiplier=_DP_NOISE_MULTIPLIER.value,
            clients_per_round=_CLIENTS_PER_ROUND.value,
            population=len(train.client_ids),
            rounds=_ROUNDS.value,
            delta=_DP_DELTA,
        )
        line += f" epsilon={epsilon:.2f}"
    print(line)


if __name__ == "__main__":
    app.run(main)
