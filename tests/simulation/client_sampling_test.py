"""Tests for tffl/simulation/client_sampling.py: per-round client samples."""

import doctest

import numpy as np
import pytest

import tffl
from tffl.simulation import client_sampling

IDS = ["a", "b", "c", "d", "e"]


def _client_data():
    return tffl.simulation.ClientData.from_tensor_slices(
        {client_id: np.array([index] * (index + 1)) for index, client_id in enumerate(IDS)}
    )


class TestExports:
    def test_exports_the_builders_when_reached_from_simulation(self):
        simulation = tffl.simulation

        assert simulation.build_uniform_sampling_fn is client_sampling.build_uniform_sampling_fn
        assert simulation.build_client_datasets_fn is client_sampling.build_client_datasets_fn


class TestBuildUniformSamplingFn:
    def test_draws_from_the_round_generator_when_seeded(self):
        sample_fn = tffl.simulation.build_uniform_sampling_fn(IDS, random_seed=3)

        expected = np.random.default_rng([3, 7]).choice(5, size=3, replace=False)
        assert sample_fn(7, 3) == [IDS[i] for i in expected]

    def test_repeats_a_round_when_called_again_or_rebuilt(self):
        first = tffl.simulation.build_uniform_sampling_fn(IDS, random_seed=0)
        second = tffl.simulation.build_uniform_sampling_fn(IDS, random_seed=0)

        samples = [first(round_num, 3) for round_num in range(1, 6)]

        assert samples == [second(round_num, 3) for round_num in range(1, 6)]
        assert len({tuple(sample) for sample in samples}) > 1
        assert all(len(set(sample)) == 3 for sample in samples)

    def test_may_repeat_elements_when_replace_is_true(self):
        sample_fn = tffl.simulation.build_uniform_sampling_fn(["x", "y"], True, random_seed=0)

        sample = sample_fn(1, 6)

        assert len(sample) == 6 and set(sample) == {"x", "y"}

    def test_returns_the_elements_themselves_when_they_are_not_strings(self):
        elements = [(1, 2), (3, 4)]
        sample_fn = tffl.simulation.build_uniform_sampling_fn(elements, random_seed=0)

        assert sorted(sample_fn(0, 2)) == elements
        assert sample_fn(0, 0) == []

    def test_draws_every_element_when_unseeded(self):
        sample_fn = tffl.simulation.build_uniform_sampling_fn(IDS)

        assert sorted(sample_fn(1, 5)) == IDS

    @pytest.mark.parametrize(
        "size, replace, message",
        [
            pytest.param(6, False, "cannot draw 6 of 5 elements without replacement", id="big"),
            pytest.param(-1, True, "cannot draw -1 of 5 elements with replacement", id="neg"),
        ],
    )
    def test_raises_when_the_size_cannot_be_drawn(self, size, replace, message):
        sample_fn = tffl.simulation.build_uniform_sampling_fn(IDS, replace, random_seed=0)

        with pytest.raises(ValueError) as raised:
            sample_fn(1, size)

        assert str(raised.value) == f"sample_fn: {message}"

    def test_raises_when_drawing_from_nothing(self):
        sample_fn = tffl.simulation.build_uniform_sampling_fn([], True, random_seed=0)

        with pytest.raises(ValueError) as raised:
            sample_fn(1, 1)

        assert str(raised.value) == "sample_fn: cannot draw 1 of 0 elements with replacement"

    @pytest.mark.parametrize("seed", [-1, 1.5, "0"], ids=["negative", "float", "string"])
    def test_raises_when_the_seed_is_not_a_non_negative_int(self, seed):
        with pytest.raises(ValueError) as raised:
            tffl.simulation.build_uniform_sampling_fn(IDS, random_seed=seed)

        assert str(raised.value) == (
            f"build_uniform_sampling_fn: expected random_seed None or an int >= 0, got {seed!r}"
        )


class TestBuildClientDatasetsFn:
    def test_returns_the_sampled_clients_datasets_when_called_with_a_round(self):
        datasets_fn = tffl.simulation.build_client_datasets_fn(
            _client_data(), 2, random_seed=5, preprocess_fn=lambda ds: ds.batch(2)
        )
        sampled = tffl.simulation.build_uniform_sampling_fn(IDS, random_seed=5)(4, 2)

        batches = [[b.tolist() for b in ds.as_numpy_iterator()] for ds in datasets_fn(4)]

        expected = []
        for client_id in sampled:
            index = IDS.index(client_id)
            values = [index] * (index + 1)
            expected.append([values[i : i + 2] for i in range(0, len(values), 2)])
        assert batches == expected

    def test_raises_when_client_data_is_not_a_client_data(self):
        with pytest.raises(TypeError) as raised:
            tffl.simulation.build_client_datasets_fn({"a": [1]}, 1)

        assert str(raised.value) == "build_client_datasets_fn: expected a ClientData, got dict"

    @pytest.mark.parametrize("clients_per_round", [0, 6])
    def test_raises_when_clients_per_round_is_out_of_range(self, clients_per_round):
        with pytest.raises(ValueError) as raised:
            tffl.simulation.build_client_datasets_fn(_client_data(), clients_per_round)

        assert str(raised.value) == (
            "build_client_datasets_fn: expected 1 <= clients_per_round <= 5, "
            f"got {clients_per_round}"
        )


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(
            client_sampling, globs=dict(vars(client_sampling))
        ):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
