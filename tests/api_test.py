"""Pins the public API lists, so the API changes only on purpose."""

import tffl
import tffl.aggregators
import tffl.learning
import tffl.learning.optimizers
import tffl.learning.privacy
import tffl.program
import tffl.simulation
import tffl.simulation.datasets
import tffl.templates
import tffl.types


def test_top_level_all_is_pinned():
    assert sorted(tffl.__all__) == sorted(
        [
            "CLIENTS",
            "FederatedType",
            "FunctionType",
            "SERVER",
            "SequenceType",
            "StructType",
            "TensorType",
            "Type",
            "TypeMismatchError",
            "aggregators",
            "backends",
            "federated_aggregate",
            "federated_broadcast",
            "federated_computation",
            "federated_eval",
            "federated_map",
            "federated_mean",
            "federated_secure_modular_sum",
            "federated_secure_sum",
            "federated_secure_sum_bitwidth",
            "federated_select",
            "federated_sum",
            "federated_value",
            "federated_zip",
            "framework",
            "infer_type",
            "learning",
            "program",
            "sequence_map",
            "sequence_reduce",
            "sequence_sum",
            "simulation",
            "templates",
            "tensorflow",
            "tf_computation",
            "to_type",
            "types",
        ]
    )


def test_types_all_is_pinned():
    assert sorted(tffl.types.__all__) == sorted(
        [
            "AbstractType",
            "CLIENTS",
            "FederatedType",
            "FunctionType",
            "PlacementLiteral",
            "PlacementType",
            "SERVER",
            "SequenceType",
            "StructType",
            "TensorType",
            "Type",
            "TypeMismatchError",
            "at_clients",
            "at_server",
            "deserialize_type",
            "infer_type",
            "serialize_type",
            "to_type",
        ]
    )


def test_templates_all_is_pinned():
    assert sorted(tffl.templates.__all__) == sorted(
        [
            "AggregationProcess",
            "EstimationProcess",
            "IterativeProcess",
            "MeasuredProcess",
            "MeasuredProcessOutput",
        ]
    )


def test_aggregators_all_is_pinned():
    assert sorted(tffl.aggregators.__all__) == sorted(
        [
            "AggregationFactory",
            "DifferentiallyPrivateFactory",
            "EncodedSumFactory",
            "MeanFactory",
            "PrivateQuantileEstimationProcess",
            "SecureSumFactory",
            "SumFactory",
            "UnweightedAggregationFactory",
            "UnweightedMeanFactory",
            "WeightedAggregationFactory",
            "clipping_factory",
            "zeroing_factory",
        ]
    )


def test_learning_all_is_pinned():
    assert sorted(tffl.learning.__all__) == sorted(
        [
            "ClientWeighting",
            "algorithms",
            "baselines",
            "compression_aggregator",
            "dp_aggregator",
            "metrics",
            "models",
            "optimizers",
            "privacy",
            "robust_aggregator",
            "templates",
        ]
    )


def test_learning_privacy_all_is_pinned():
    assert sorted(tffl.learning.privacy.__all__) == sorted(
        ["EpsilonTracker", "compute_epsilon", "compute_epsilon_for_rounds"]
    )


def test_learning_optimizers_all_is_pinned():
    assert sorted(tffl.learning.optimizers.__all__) == sorted(
        [
            "KerasOptimizer",
            "Optimizer",
            "build_adagrad",
            "build_adam",
            "build_adamw",
            "build_optimizer",
            "build_rmsprop",
            "build_sgdm",
            "build_yogi",
        ]
    )


def test_program_all_is_pinned():
    assert sorted(tffl.program.__all__) == [
        "FileProgramStateManager",
        "ProgramStateExistsError",
        "ProgramStateManager",
        "ProgramStateNotFoundError",
    ]


def test_simulation_all_is_pinned():
    assert sorted(tffl.simulation.__all__) == [
        "CSVMetricsManager",
        "ClientData",
        "MetricsManager",
        "ProgressReporter",
        "TensorBoardManager",
        "TrainingResult",
        "build_client_datasets_fn",
        "build_uniform_sampling_fn",
        "datasets",
        "partitioners",
        "run_training",
    ]


def test_simulation_datasets_all_is_pinned():
    assert sorted(tffl.simulation.datasets.__all__) == [
        "ClientData",
        "TestClientData",
        "digits",
        "emnist",
        "partition_by_feature",
        "partition_dirichlet",
        "partition_iid",
        "synthetic",
        "tfds_loader",
    ]


def test_every_name_in_all_exists():
    modules = (
        tffl,
        tffl.types,
        tffl.framework,
        tffl.tensorflow,
        tffl.templates,
        tffl.aggregators,
        tffl.learning,
        tffl.learning.optimizers,
        tffl.program,
        tffl.simulation,
        tffl.simulation.datasets,
    )
    for module in modules:
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_backends_offer_a_local_and_a_remote_context():
    for backend in (tffl.backends.local, tffl.backends.remote):
        assert callable(backend.create_context), backend.__name__
        assert callable(backend.set_context), backend.__name__
