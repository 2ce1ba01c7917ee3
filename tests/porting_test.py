"""TFF programs run with `import tffl as tff`: the shapes of TFF's own tutorials.

Each test is a federated program written against TensorFlow Federated's public
API, as its tutorials write them: the first line setting TFF's context, placed
types and intrinsics, a Keras model through `from_keras_model`, FedAvg and
evaluation, and a FedAvg assembled by hand from `tf_computation`s and an
`IterativeProcess`. Only the import differs.
"""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tffl as tff


@pytest.fixture(autouse=True)
def tff_context(set_context):
    """TFF's first line; `set_context` restores the default context afterwards."""
    tff.backends.native.set_sync_local_cpp_execution_context()


def _client_datasets(num_clients, seed=0):
    rng = np.random.default_rng(seed)
    datasets = []
    for _ in range(num_clients):
        x = rng.normal(size=(30, 784)).astype(np.float32)
        y = x[:, :10].argmax(axis=1).astype(np.int32).reshape(-1, 1)
        datasets.append(
            tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(10)
        )
    return datasets


def _create_keras_model():
    return tf.keras.models.Sequential(
        [
            tf.keras.layers.Input(shape=(784,)),
            tf.keras.layers.Dense(10, kernel_initializer=tf.keras.initializers.GlorotNormal(0)),
            tf.keras.layers.Softmax(),
        ]
    )


def _model_fn(element_spec):
    def model_fn():
        return tff.learning.models.from_keras_model(
            _create_keras_model(),
            input_spec=element_spec,
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    return model_fn


def _central_loss(weights, dataset):
    keras_model = _create_keras_model()
    keras_model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy())
    keras_model.set_weights(weights)
    return keras_model.evaluate(dataset.map(lambda d: (d["x"], d["y"])), verbose=0)


class TestFederatedCore:
    def test_placed_types_and_intrinsics(self):
        readings_type = tff.FederatedType(tf.float32, tff.CLIENTS)
        assert str(readings_type) == "{float32}@CLIENTS"
        assert (readings_type.member, readings_type.placement) == (
            tff.TensorType(tf.float32),
            tff.CLIENTS,
        )
        assert readings_type.all_equal is False

        @tff.federated_computation(tff.types.at_clients(tf.float32))
        def average_temperature(sensor_readings):
            return tff.federated_mean(sensor_readings)

        @tff.tf_computation(tf.float32)
        def add_half(x):
            return tf.add(x, 0.5)

        @tff.federated_computation(tff.types.at_clients(tf.float32))
        def add_half_on_clients(x):
            return tff.federated_map(add_half, x)

        assert str(average_temperature.type_signature) == "({float32}@CLIENTS -> float32@SERVER)"
        assert average_temperature([68.5, 70.3, 69.8]) == np.float32(
            (np.float32(68.5) + np.float32(70.3) + np.float32(69.8)) / np.float32(3)
        )
        assert str(add_half.type_signature) == "(float32 -> float32)"
        assert add_half_on_clients([1.0, 3.0, 2.0]) == [1.5, 3.5, 2.5]

    def test_sequences_broadcast_and_implicit_zip(self):
        @tff.tf_computation(tff.SequenceType(tf.float32))
        def local_average(temperatures):
            total, count = temperatures.reduce((0.0, 0), lambda s, t: (s[0] + t, s[1] + 1))
            return total / tf.cast(count, tf.float32)

        @tff.federated_computation(tff.types.at_clients(tff.SequenceType(tf.float32)))
        def global_average(sensor_readings):
            return tff.federated_mean(tff.federated_map(local_average, sensor_readings))

        @tff.federated_computation(
            tff.types.at_clients(tf.float32), tff.types.at_server(tf.float32)
        )
        def fraction_above(readings, threshold):
            @tff.tf_computation(tf.float32, tf.float32)
            def above(reading, limit):
                return tf.cast(reading > limit, tf.float32)

            broadcast = tff.federated_broadcast(threshold)
            return tff.federated_mean(tff.federated_map(above, (readings, broadcast)))

        assert str(global_average.type_signature) == "({float32*}@CLIENTS -> float32@SERVER)"
        assert global_average([[68.0, 70.0], [71.0], [68.0, 72.0, 70.0]]) == np.float32(70.0)
        assert str(fraction_above.type_signature) == (
            "(<readings={float32}@CLIENTS,threshold=float32@SERVER> -> float32@SERVER)"
        )
        assert fraction_above([68.0, 70.0, 80.0], 69.0) == np.float32(2.0 / 3.0)

    def test_federated_select_sends_each_client_its_keys_values(self):
        strings_type = tff.types.TensorType(np.str_, [None])

        @tff.tf_computation(strings_type)
        def get_size(x):
            return tf.size(x)

        @tff.tf_computation(strings_type, tf.int32)
        def select_fn(server_state, key):
            return tf.gather(server_state, key)

        @tff.tf_computation(tff.SequenceType(tf.string))
        def concatenate(values):
            def join(joined, item):
                return tf.cond(
                    tf.math.equal(joined, ""),
                    lambda: item,
                    lambda: tf.strings.join([joined, item], ","),
                )

            return values.reduce("", join)

        @tff.federated_computation(
            tff.types.at_server(strings_type),
            tff.types.at_clients(tff.types.TensorType(np.int32, [2])),
        )
        def values_for_keys(server_state, client_keys):
            max_key = tff.federated_map(get_size, server_state)
            selected = tff.federated_select(client_keys, max_key, server_state, select_fn)
            return tff.federated_map(concatenate, selected)

        assert str(values_for_keys.type_signature) == (
            "(<server_state=string[?]@SERVER,client_keys={int32[2]}@CLIENTS> -> {string}@CLIENTS)"
        )
        assert values_for_keys(["a", "b", "c"], [[1, 0], [2, 1], [0, 2]]) == [
            b"b,a",
            b"c,b",
            b"a,c",
        ]


class TestLearning:
    def test_fed_avg_then_federated_evaluation(self):
        federated_train_data = _client_datasets(3)
        model_fn = _model_fn(federated_train_data[0].element_spec)
        training_process = tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=0.02),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=1.0),
        )
        assert training_process.initialize.type_signature.formatted_representation() == (
            "( -> <\n"
            "  global_model_weights=<trainable=<float32[784,10],float32[10]>,non_trainable=<>>,\n"
            "  distributor=<>,\n"
            "  client_work=<>,\n"
            "  aggregator=<value_sum_process=<>,weight_sum_process=<>>,\n"
            "  finalizer=<learning_rate=float32>\n"
            ">@SERVER)"
        )

        train_state = training_process.initialize()
        losses = []
        for _ in range(3):
            result = training_process.next(train_state, federated_train_data)
            train_state = result.state
            train_metrics = result.metrics["client_work"]["train"]
            assert train_metrics["num_examples"] == 90
            losses.append(train_metrics["loss"])
        assert losses[0] > losses[1] > losses[2]

        evaluation_process = tff.learning.algorithms.build_fed_eval(model_fn)
        evaluation_state = evaluation_process.initialize()
        model_weights = training_process.get_model_weights(train_state)
        evaluation_state = evaluation_process.set_model_weights(evaluation_state, model_weights)
        evaluation_output = evaluation_process.next(evaluation_state, federated_train_data)
        eval_metrics = evaluation_output.metrics["client_work"]["eval"]["current_round_metrics"]

        keras_model = _create_keras_model()
        model_weights.assign_weights_to(keras_model)
        central = [_central_loss(keras_model.get_weights(), d) for d in federated_train_data]
        assert eval_metrics["num_examples"] == 90
        np.testing.assert_allclose(eval_metrics["loss"], np.mean(central), rtol=1e-5)

    def test_fed_avg_written_by_hand_with_an_iterative_process(self):
        federated_train_data = _client_datasets(3)
        model_fn = _model_fn(federated_train_data[0].element_spec)

        @tf.function
        def client_update(model, dataset, server_weights, client_optimizer):
            client_weights = model.trainable_variables
            tf.nest.map_structure(lambda x, y: x.assign(y), client_weights, server_weights)
            for batch in dataset:
                with tf.GradientTape() as tape:
                    outputs = model.forward_pass(batch)
                grads = tape.gradient(outputs.loss, client_weights)
                client_optimizer.apply_gradients(zip(grads, client_weights))
            return client_weights

        @tf.function
        def server_update(model, mean_client_weights):
            model_weights = model.trainable_variables
            tf.nest.map_structure(lambda x, y: x.assign(y), model_weights, mean_client_weights)
            return model_weights

        @tff.tf_computation
        def server_init():
            return model_fn().trainable_variables

        @tff.federated_computation
        def initialize_fn():
            return tff.federated_value(server_init(), tff.SERVER)

        tf_dataset_type = tff.SequenceType(model_fn().input_spec)
        model_weights_type = server_init.type_signature.result

        @tff.tf_computation(tf_dataset_type, model_weights_type)
        def client_update_fn(tf_dataset, server_weights):
            client_optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
            return client_update(model_fn(), tf_dataset, server_weights, client_optimizer)

        @tff.tf_computation(model_weights_type)
        def server_update_fn(mean_client_weights):
            return server_update(model_fn(), mean_client_weights)

        @tff.federated_computation(
            tff.FederatedType(model_weights_type, tff.SERVER),
            tff.FederatedType(tf_dataset_type, tff.CLIENTS),
        )
        def next_fn(server_weights, federated_dataset):
            server_weights_at_client = tff.federated_broadcast(server_weights)
            client_weights = tff.federated_map(
                client_update_fn, (federated_dataset, server_weights_at_client)
            )
            mean_client_weights = tff.federated_mean(client_weights)
            return tff.federated_map(server_update_fn, mean_client_weights)

        federated_algorithm = tff.templates.IterativeProcess(
            initialize_fn=initialize_fn, next_fn=next_fn
        )
        assert str(federated_algorithm.initialize.type_signature) == (
            "( -> <float32[784,10],float32[10]>@SERVER)"
        )
        assert str(federated_algorithm.next.type_signature) == (
            "(<server_weights=<float32[784,10],float32[10]>@SERVER,"
            "federated_dataset={<x=float32[?,784],y=int32[?,1]>*}@CLIENTS> -> "
            "<float32[784,10],float32[10]>@SERVER)"
        )

        server_state = federated_algorithm.initialize()
        first = federated_algorithm.next(server_state, federated_train_data)
        # One round is the plain mean of the clients' locally trained weights.
        clients = [client_update_fn(d, server_state) for d in federated_train_data]
        for got, *trained in zip(first, *clients):
            np.testing.assert_allclose(got, np.mean(trained, axis=0), rtol=1e-6, atol=1e-7)
        server_state = first
        for _ in range(3):
            server_state = federated_algorithm.next(server_state, federated_train_data)
        before = _central_loss(federated_algorithm.initialize(), federated_train_data[0])
        after = _central_loss(server_state, federated_train_data[0])
        assert after < before


class TestCustomAggregator:
    def test_a_factory_wrapping_an_inner_factory(self):
        @tff.tf_computation()
        def scale(value, factor):
            return tf.nest.map_structure(lambda x: x * factor, value)

        @tff.tf_computation()
        def unscale(value, factor):
            return tf.nest.map_structure(lambda x: x / factor, value)

        @tff.tf_computation()
        def add_one(value):
            return value + 1.0

        class ScaledSumFactory(tff.aggregators.UnweightedAggregationFactory):
            def __init__(self, inner_factory=None):
                self._inner_factory = inner_factory or tff.aggregators.SumFactory()

            def create(self, value_type):
                inner_process = self._inner_factory.create(value_type)

                @tff.federated_computation()
                def initialize_fn():
                    my_state = tff.federated_value(0.0, tff.SERVER)
                    return tff.federated_zip((my_state, inner_process.initialize()))

                @tff.federated_computation(
                    initialize_fn.type_signature.result, tff.types.at_clients(value_type)
                )
                def next_fn(state, value):
                    state, inner_state = state
                    new_state = tff.federated_map(add_one, state)
                    state_at_clients = tff.federated_broadcast(new_state)
                    scaled_value = tff.federated_map(scale, (value, state_at_clients))
                    inner_output = inner_process.next(inner_state, scaled_value)
                    unscaled_value = tff.federated_map(unscale, (inner_output.result, new_state))
                    measurements = tff.federated_zip(
                        collections.OrderedDict(
                            scaled_value=inner_output.result,
                            example_task=inner_output.measurements,
                        )
                    )
                    return tff.templates.MeasuredProcessOutput(
                        state=tff.federated_zip((new_state, inner_output.state)),
                        result=unscaled_value,
                        measurements=measurements,
                    )

                return tff.templates.AggregationProcess(initialize_fn, next_fn)

        process = ScaledSumFactory().create(tff.TensorType(np.float32))
        assert str(process.initialize.type_signature) == "( -> <float32,<>>@SERVER)"
        assert str(process.next.type_signature) == (
            "(<state=<float32,<>>@SERVER,value={float32}@CLIENTS> -> "
            "<state=<float32,<>>@SERVER,result=float32@SERVER,"
            "measurements=<scaled_value=float32,example_task=<>>@SERVER>)"
        )

        output = process.next(process.initialize(), [1.0, 2.0, 5.0])
        assert output.result == np.float32(8.0)
        assert output.measurements == collections.OrderedDict(scaled_value=8.0, example_task=())
        output = process.next(output.state, [1.0, 2.0, 5.0])
        assert output.result == np.float32(8.0)
        assert output.measurements["scaled_value"] == np.float32(16.0)
        assert output.state == (2.0, ())
