"""Tests for tffl/learning/privacy.py: ε of DP training rounds with dp-accounting."""

import doctest

import dp_accounting
import numpy as np
import pytest

import tffl
from tffl.learning import privacy

# The published DP-SGD check: 60000 examples, batches of 256, noise 1.1, 60 epochs,
# delta 1e-5. 60 * 60000 / 256 = 14062.5 steps; the check values are for 14062
# whole steps (14063 gives 2.5967 and 2.3818).
CHECK = dict(noise_multiplier=1.1, clients_per_round=256, population=60000, delta=1e-5)
CHECK_STEPS = 60 * 60000 // 256


class TestComputeEpsilon:
    @pytest.mark.parametrize("accountant, expected", [("rdp", 2.5966), ("pld", 2.3817)])
    def test_gives_the_published_check_value(self, accountant, expected):
        epsilon = privacy.compute_epsilon(**CHECK, rounds=CHECK_STEPS, accountant=accountant)

        assert CHECK_STEPS == 14062
        assert round(epsilon, 4) == expected

    def test_equals_the_rdp_accountant_composed_directly(self):
        event = dp_accounting.PoissonSampledDpEvent(10 / 1000, dp_accounting.GaussianDpEvent(0.8))
        accountant = dp_accounting.rdp.RdpAccountant()
        accountant.compose(event, 100)

        epsilon = tffl.learning.privacy.compute_epsilon(0.8, 10, 1000, 100, 1e-6)

        assert epsilon == accountant.get_epsilon(1e-6)

    def test_is_zero_when_no_round_has_run(self):
        assert privacy.compute_epsilon(1.0, 10, 1000, 0, 1e-5) == 0.0

    def test_decreases_when_noise_grows_or_sampling_shrinks(self):
        base = privacy.compute_epsilon(1.0, 10, 1000, 100, 1e-5)

        assert privacy.compute_epsilon(2.0, 10, 1000, 100, 1e-5) < base
        assert privacy.compute_epsilon(1.0, 10, 10000, 100, 1e-5) < base
        assert privacy.compute_epsilon(1.0, 10, 1000, 200, 1e-5) > base


class TestComputeEpsilonForRounds:
    def test_matches_compute_epsilon_after_every_round_when_rdp(self):
        epsilons = privacy.compute_epsilon_for_rounds(1.0, 10, 1000, 30, 1e-5)

        expected = [privacy.compute_epsilon(1.0, 10, 1000, t, 1e-5) for t in (1, 10, 30)]
        assert len(epsilons) == 30
        np.testing.assert_allclose([epsilons[0], epsilons[9], epsilons[29]], expected, rtol=1e-12)
        assert all(a < b for a, b in zip(epsilons, epsilons[1:]))

    def test_is_close_to_compute_epsilon_when_pld(self):
        epsilons = privacy.compute_epsilon_for_rounds(1.0, 10, 1000, 3, 1e-5, accountant="pld")

        expected = privacy.compute_epsilon(1.0, 10, 1000, 3, 1e-5, accountant="pld")
        np.testing.assert_allclose(epsilons[-1], expected, rtol=1e-3)
        assert epsilons == sorted(epsilons) and len(set(epsilons)) == 3

    def test_is_empty_when_rounds_is_zero(self):
        assert privacy.compute_epsilon_for_rounds(1.0, 10, 1000, 0, 1e-5) == []


class TestEpsilonTracker:
    def test_epsilon_increases_each_round_of_a_small_run(self):
        tracker = privacy.EpsilonTracker(0.5, clients_per_round=10, population=20, delta=1e-3)

        epsilons = [tracker.after_round(round_num) for round_num in range(1, 11)]

        assert tracker.epsilon == epsilons[-1]
        assert [t for t, _ in tracker.history] == list(range(1, 11))
        assert all(0 < a < b for a, b in zip(epsilons, epsilons[1:])), epsilons
        assert epsilons[-1] == privacy.compute_epsilon(0.5, 10, 20, 10, 1e-3)

    def test_composes_skipped_rounds_when_called_every_few_rounds(self):
        tracker = privacy.EpsilonTracker(1.0, 10, 1000, 1e-5)

        tracker.after_round(5)
        epsilon = tracker.after_round(12)

        assert tracker.history[0][0] == 5
        assert epsilon == privacy.compute_epsilon(1.0, 10, 1000, 12, 1e-5)
        assert tracker.after_round(12) == epsilon  # The same round again spends nothing.

    def test_is_zero_before_any_round(self):
        assert privacy.EpsilonTracker(1.0, 10, 1000, 1e-5).epsilon == 0.0

    def test_raises_value_error_when_round_goes_back(self):
        tracker = privacy.EpsilonTracker(1.0, 10, 1000, 1e-5)
        tracker.after_round(3)

        with pytest.raises(ValueError) as raised:
            tracker.after_round(2)
        assert str(raised.value) == (
            "EpsilonTracker.after_round round_num: expected an integer at least the last "
            "round recorded (3), got 2"
        )


class TestArgumentErrors:
    @pytest.mark.parametrize(
        "kwargs, message",
        [
            (dict(noise_multiplier=0.0), "noise_multiplier: expected a positive float, got 0.0"),
            (dict(noise_multiplier=-1.0), "noise_multiplier: expected a positive float, got -1.0"),
            (
                dict(clients_per_round=0),
                "clients_per_round: expected a number in [1, population=1000], got 0",
            ),
            (
                dict(clients_per_round=2000),
                "clients_per_round: expected a number in [1, population=1000], got 2000",
            ),
            (dict(population=0), "population: expected a positive integer, got 0"),
            (dict(population=10.5), "population: expected a positive integer, got 10.5"),
            (dict(rounds=-1), "rounds: expected a non-negative integer, got -1"),
            (dict(rounds=2.5), "rounds: expected a non-negative integer, got 2.5"),
            (dict(delta=0.0), "delta: expected a float in (0, 1), got 0.0"),
            (dict(delta=1.0), "delta: expected a float in (0, 1), got 1.0"),
            (dict(accountant="moments"), "accountant: expected 'rdp' or 'pld', got 'moments'"),
        ],
        ids=[
            "zero-noise",
            "negative-noise",
            "no-clients",
            "more-than-population",
            "no-population",
            "fractional-population",
            "negative-rounds",
            "fractional-rounds",
            "zero-delta",
            "delta-one",
            "unknown-accountant",
        ],
    )
    def test_compute_epsilon_raises_value_error_naming_the_value(self, kwargs, message):
        arguments = dict(
            noise_multiplier=1.0, clients_per_round=10, population=1000, rounds=10, delta=1e-5
        )
        arguments.update(kwargs)

        with pytest.raises(ValueError) as raised:
            privacy.compute_epsilon(**arguments)
        assert str(raised.value) == f"compute_epsilon {message}"

    def test_other_entry_points_name_themselves_in_errors(self):
        with pytest.raises(ValueError, match=r"^compute_epsilon_for_rounds delta: "):
            privacy.compute_epsilon_for_rounds(1.0, 10, 1000, 5, delta=2.0)
        with pytest.raises(ValueError, match=r"^EpsilonTracker noise_multiplier: "):
            privacy.EpsilonTracker(-1.0, 10, 1000, 1e-5)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(privacy, globs=vars(privacy)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
