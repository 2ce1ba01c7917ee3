"""Tests for tffl_ops/secure_aggregation.py: seeds, masks, cancellation, dropouts, uniformity."""

import doctest

import numpy as np
import pytest
import tensorflow as tf

from tffl_ops import secure_aggregation as masking


def _chi_square_p_value(samples, modulus):
    """The p-value of a chi-square test of `samples` against uniform on [0, modulus)."""
    counts = np.bincount(np.asarray(samples, np.int64), minlength=modulus)
    expected = len(samples) / modulus
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    degrees = modulus - 1
    return float(tf.math.igammac(degrees / 2.0, statistic / 2.0))


def _ks_statistic(samples, modulus):
    """The Kolmogorov-Smirnov distance of `samples` / modulus from uniform on [0, 1)."""
    points = np.sort(np.asarray(samples, np.float64) / modulus)
    n = len(points)
    above = np.arange(1, n + 1) / n - points
    below = points - np.arange(n) / n
    return float(max(above.max(), below.max()))


def _protocol(values, modulus, round_key, dropped=(), self_masks=True):
    """Masks every client's value, then sums and unmasks the survivors' (as the executor does)."""
    num_clients = len(values)
    secrets = masking.client_secrets(round_key, num_clients)
    seeds = masking.pair_seeds(secrets, list(range(num_clients)))
    self_seeds = masking.self_seeds(secrets)
    masked = [
        masking.mask(
            tf.constant(value, tf.int64),
            index,
            seeds[index],
            modulus,
            self_seeds[index] if self_masks else None,
        )
        for index, value in enumerate(values)
    ]
    survivors = [i for i in range(num_clients) if i not in dropped]
    total = masking.modular_sum(tf.stack([masked[i] for i in survivors]), modulus)
    dropped = list(dropped)
    dropped_seeds = masking.pair_seeds(secrets, tf.constant(dropped, tf.int64, [len(dropped)]))
    total = masking.unmask_dropouts(total, survivors, dropped, dropped_seeds, modulus)
    if self_masks:
        total = masking.remove_self_masks(total, tf.gather(self_seeds, survivors), modulus)
    return masked, total


class TestCheckModulus:
    @pytest.mark.parametrize(
        "modulus", [1, 7, 2**32, 2**33, 2**62], ids=["one", "seven", "2^32", "2^33", "2^62"]
    )
    def test_accepts_when_modulus_is_small_or_a_power_of_two(self, modulus):
        assert masking.check_modulus(modulus) == modulus

    @pytest.mark.parametrize(
        "modulus", [0, -4, 2**32 + 1, 2**63], ids=["zero", "negative", "2^32+1", "2^63"]
    )
    def test_raises_when_masks_would_not_be_uniform(self, modulus):
        with pytest.raises(ValueError) as raised:
            masking.check_modulus(modulus)

        assert str(raised.value) == (
            f"expected a modulus in [1, 2**32] or a power of two up to 2**62, got {modulus}"
        )


class TestSeeds:
    def test_pair_seeds_are_symmetric_with_a_zero_diagonal_when_derived_for_all_clients(self):
        secrets = masking.client_secrets([1, 2], 6)

        seeds = masking.pair_seeds(secrets, list(range(6))).numpy()

        np.testing.assert_array_equal(seeds, np.transpose(seeds, (1, 0, 2)))
        np.testing.assert_array_equal(seeds[np.arange(6), np.arange(6)], np.zeros((6, 2)))
        off_diagonal = seeds[~np.eye(6, dtype=bool)]
        assert len({tuple(s) for s in off_diagonal}) == 15

    def test_a_row_equals_the_full_matrix_row_when_derived_for_one_client(self):
        secrets = masking.client_secrets([3, 4], 5)

        row = masking.pair_seeds(secrets, [2]).numpy()

        np.testing.assert_array_equal(row[0], masking.pair_seeds(secrets, range(5)).numpy()[2])

    def test_seeds_differ_when_the_round_key_differs(self):
        first = masking.pair_seeds(masking.client_secrets([1, 2], 3), [0]).numpy()
        second = masking.pair_seeds(masking.client_secrets([1, 3], 3), [0]).numpy()

        assert not np.any(first[0, 1:] == second[0, 1:])

    def test_self_seeds_differ_from_pair_seeds_when_derived_from_the_same_secrets(self):
        secrets = masking.client_secrets([5, 6], 4)

        pair = {tuple(s) for s in masking.pair_seeds(secrets, range(4)).numpy().reshape(-1, 2)}
        own = {tuple(s) for s in masking.self_seeds(secrets).numpy()}

        assert len(own) == 4
        assert not own & pair

    def test_fold_in_gives_a_new_stream_per_datum_when_given_the_same_seeds(self):
        seeds = tf.constant([[1, 2], [3, 4]], tf.int64)

        folded = [masking.fold_in(seeds, leaf).numpy() for leaf in range(3)]

        assert len({tuple(s) for f in folded for s in f}) == 6
        np.testing.assert_array_equal(masking.fold_in(seeds, 1), folded[1])

    def test_prg_is_a_function_of_the_seed_when_called_twice(self):
        first = masking.prg([7, 8], [4], 2**40)

        np.testing.assert_array_equal(first, masking.prg([7, 8], [4], 2**40))
        assert first.dtype == tf.int64
        assert np.all((first.numpy() >= 0) & (first.numpy() < 2**40))


class TestMasksCancel:
    @pytest.mark.parametrize(
        "modulus, num_clients",
        [(7, 5), (2**8, 40), (2**32, 12), (2**62, 9)],
        ids=["modulus_7", "2^8_40_clients", "2^32", "2^62"],
    )
    def test_masked_values_sum_to_the_true_sum_mod_m_when_no_client_drops(
        self, modulus, num_clients
    ):
        rng = np.random.default_rng(num_clients)
        values = rng.integers(0, min(modulus, 2**62), size=(num_clients, 3), dtype=np.int64)

        masked, _ = _protocol(values, modulus, [11, num_clients], self_masks=False)

        total = masking.modular_sum(tf.stack(masked), modulus).numpy()
        expected = [sum(int(v) for v in column) % modulus for column in values.T]
        assert total.tolist() == expected

    @pytest.mark.parametrize(
        "dropped",
        [(), (0,), (2, 5), (0, 1, 2, 3, 4, 5, 6, 7, 8)],
        ids=["none", "first", "two", "all_but_one"],
    )
    def test_recovers_the_survivors_sum_exactly_when_clients_drop(self, dropped):
        modulus = 2**20
        values = np.arange(10 * 4, dtype=np.int64).reshape(10, 4) * 1000

        _, total = _protocol(values, modulus, [21, 22], dropped=dropped)

        survivors = [i for i in range(10) if i not in dropped]
        np.testing.assert_array_equal(total, values[survivors].sum(axis=0))

    def test_the_survivors_sum_stays_masked_when_dropped_masks_are_not_removed(self):
        values = np.zeros((4, 64), np.int64)
        secrets = masking.client_secrets([1, 1], 4)
        seeds = masking.pair_seeds(secrets, range(4))
        masked = [masking.mask(values[i], i, seeds[i], 2**16) for i in range(3)]

        partial = masking.modular_sum(tf.stack(masked), 2**16).numpy()

        assert np.count_nonzero(partial) > 60

    def test_remove_self_masks_is_the_identity_when_there_are_no_survivors(self):
        total = masking.remove_self_masks(
            tf.constant([3, 4], tf.int64), tf.zeros([0, 2], tf.int64), 8
        )

        assert total.numpy().tolist() == [3, 4]


def _masked_scalars(values, modulus):
    """What the server receives from client 1 of 3 in each round, one fresh round key per value."""

    def one_round(round_and_value):
        round_index, value = round_and_value
        secrets = masking.client_secrets(tf.stack([round_index, 77]), 3)
        seeds = masking.pair_seeds(secrets, [1])[0]
        return masking.mask(value, 1, seeds, modulus, masking.self_seeds(secrets)[1])

    rounds = tf.range(len(values), dtype=tf.int64)
    all_rounds = tf.function(
        lambda v: tf.map_fn(one_round, (rounds, v), fn_output_signature=tf.int64)
    )
    return all_rounds(tf.constant(values, tf.int64)).numpy()


class TestMaskedValuesAreUniform:
    ROUNDS = 3000

    def test_passes_a_chi_square_test_when_a_client_sends_the_same_value_every_round(self):
        received = _masked_scalars([5] * self.ROUNDS, 16)

        assert _chi_square_p_value(received, 16) > 1e-3

    def test_passes_a_ks_test_when_the_modulus_is_2_to_the_32(self):
        received = _masked_scalars([2**31] * self.ROUNDS, 2**32)

        # 1.95 / sqrt(n) is the KS critical distance at a significance of 0.001.
        assert _ks_statistic(received, 2**32) < 1.95 / np.sqrt(self.ROUNDS)

    def test_is_uncorrelated_with_the_true_value_when_values_vary(self):
        values = np.random.default_rng(0).integers(0, 2**10, self.ROUNDS)

        received = _masked_scalars(values, 2**10)

        # Four standard errors of a correlation over independent samples.
        assert abs(np.corrcoef(values, received)[0, 1]) < 4 / np.sqrt(self.ROUNDS)
        assert np.mean(received == values) < 0.01


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        for test in doctest.DocTestFinder().find(masking, globs=vars(masking)):
            runner.run(test)
        results = runner.summarize(verbose=False)
        assert results.failed == 0
        assert results.attempted > 0
