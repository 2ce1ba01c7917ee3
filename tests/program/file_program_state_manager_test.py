"""Tests for tffl/program/file_program_state_manager.py: versions of a state in files."""

import collections
import dataclasses
import doctest
import os
import pathlib
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

import tffl
from tffl.program import file_program_state_manager
from tffl.program import program_state_manager
from tffl_ops import structure

INPUT_SPEC = collections.OrderedDict(
    x=tf.TensorSpec([None, 2], tf.float32), y=tf.TensorSpec([None], tf.int32)
)


def _model_fn():
    keras_model = tf.keras.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(2,)),
            tf.keras.layers.Dense(2, kernel_initializer=tf.keras.initializers.GlorotUniform(0)),
        ]
    )
    return tffl.learning.models.from_keras_model(
        keras_model,
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        input_spec=INPUT_SPEC,
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
    )


def _client_dataset(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices(collections.OrderedDict(x=x, y=y)).batch(3)


@pytest.fixture(scope="module")
def fed_avg():
    # Adam on the server puts float and int64 scalars and lists of arrays in the state.
    return tffl.learning.algorithms.build_weighted_fed_avg(
        _model_fn,
        tffl.learning.optimizers.build_sgdm(learning_rate=0.1),
        server_optimizer_fn=tffl.learning.optimizers.build_adam(learning_rate=0.01),
    )


def _assert_identical(actual, expected):
    assert type(actual) is type(expected)
    actual_leaves, expected_leaves = structure.flatten(actual), structure.flatten(expected)
    assert [type(leaf) for leaf in actual_leaves] == [type(leaf) for leaf in expected_leaves]
    for a, e in zip(actual_leaves, expected_leaves):
        assert np.asarray(a).dtype == np.asarray(e).dtype
        np.testing.assert_array_equal(a, e)


@dataclasses.dataclass
class _Record:
    count: int
    values: list


Pair = collections.namedtuple("Pair", ["first", "second"])


def _write(manager, version, data):
    with open(manager.path_of(version), "wb") as f:
        f.write(data)


def _with_crc(body):
    return body + struct.pack("<I", zlib.crc32(body))


class TestSaveAndLoad:
    def test_loads_identical_state_when_a_fed_avg_state_is_saved(self, fed_avg, tmp_path):
        state = fed_avg.initialize()
        state = fed_avg.next(state, [_client_dataset(0), _client_dataset(1)]).state
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        manager.save(state, 1)
        loaded = manager.load(1, fed_avg.initialize())

        _assert_identical(loaded, state)
        assert type(loaded.global_model_weights) is type(state.global_model_weights)
        assert type(loaded.finalizer) is collections.OrderedDict
        assert list(loaded.finalizer) == list(state.finalizer)
        assert loaded.distributor == ()

    def test_continues_identically_when_a_loaded_fed_avg_state_runs_a_round(
        self, fed_avg, tmp_path
    ):
        data = [_client_dataset(0), _client_dataset(1)]
        state = fed_avg.next(fed_avg.initialize(), data).state
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        manager.save(state, 1)

        loaded = manager.load(1, fed_avg.initialize())

        _assert_identical(fed_avg.next(loaded, data).state, fed_avg.next(state, data).state)

    def test_keeps_leaf_kinds_when_python_and_numpy_scalars_are_saved(self, tmp_path):
        state = collections.OrderedDict(
            count=3,
            rate=0.1,
            flag=True,
            name="fed",
            raw=b"\x00\x01",
            step=np.int64(7),
            scale=np.float32(0.5),
            empty=(),
            pair=Pair(np.arange(3, dtype=np.int32), [np.zeros([2, 0], np.float64)]),
            record=_Record(count=2, values=[np.float16(1.5)]),
        )
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        manager.save(state, 0)
        loaded = manager.load(0, state)

        _assert_identical(loaded, state)
        assert loaded["name"] == "fed" and loaded["raw"] == b"\x00\x01"
        assert loaded["rate"] == 0.1 and type(loaded["rate"]) is float
        assert type(loaded["pair"]) is Pair and type(loaded["record"]) is _Record

    def test_loads_eager_tensor_leaves_as_arrays_when_the_structure_holds_tensors(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        manager.save({"w": tf.constant([1.0, 2.0])}, 0)
        loaded = manager.load(0, {"w": tf.zeros([2])})

        assert type(loaded["w"]) is np.ndarray
        np.testing.assert_array_equal(loaded["w"], np.array([1.0, 2.0], np.float32))

    def test_writes_the_documented_format_when_a_state_is_saved(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        manager.save({"a": np.int32(5)}, 0)

        data = pathlib.Path(manager.path_of(0)).read_bytes()
        tensor = tf.make_tensor_proto(np.int32(5)).SerializeToString()
        body = (
            b"TFFLPST1"
            + struct.pack("<I", 1)
            + struct.pack("<I", 1)
            + b"a"
            + struct.pack("<Q", len(tensor))
            + tensor
        )
        assert data == _with_crc(body)
        assert os.listdir(tmp_path) == ["program_state_0"]

    def test_returns_latest_version_when_several_are_saved(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path), prefix="ckpt_")
        for version in (0, 10, 2):
            manager.save({"v": version}, version)

        assert manager.get_versions() == [0, 2, 10]
        assert manager.load_latest({"v": 0}) == ({"v": 10}, 10)

    def test_returns_none_when_nothing_is_saved(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path / "new"))

        assert manager.get_versions() is None
        assert manager.load_latest({"v": 0}) == (None, 0)
        assert os.path.isdir(tmp_path / "new")

    def test_ignores_other_files_when_listing_versions(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        manager.save({"v": 1}, 1)
        for name in ("program_state_x", "notes.txt", ".program_state_2.abc.tmp", "program_state_"):
            (tmp_path / name).write_bytes(b"")
        (tmp_path / "program_state_3").mkdir()

        assert manager.get_versions() == [1]


class TestKeepTotal:
    @pytest.mark.parametrize(
        "keep_total, keep_first, expected",
        [
            pytest.param(2, True, [0, 3, 4], id="keeps_first_and_last_two"),
            pytest.param(2, False, [3, 4], id="keeps_last_two"),
            pytest.param(5, True, [0, 1, 2, 3, 4], id="fewer_than_keep_total"),
            pytest.param(0, False, [0, 1, 2, 3, 4], id="zero_keeps_all"),
        ],
    )
    def test_deletes_old_versions_when_more_than_keep_total_are_saved(
        self, tmp_path, keep_total, keep_first, expected
    ):
        manager = tffl.program.FileProgramStateManager(
            str(tmp_path), keep_total=keep_total, keep_first=keep_first
        )
        for version in range(5):
            manager.save({"v": version}, version)

        assert manager.get_versions() == expected
        assert sorted(os.listdir(tmp_path)) == [f"program_state_{v}" for v in expected]


class TestErrors:
    def test_raises_when_a_version_is_saved_twice(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        manager.save({"v": 1}, 1)

        with pytest.raises(tffl.program.ProgramStateExistsError) as raised:
            manager.save({"v": 2}, 1)

        assert str(raised.value) == (
            f"program state version 1 already exists: {tmp_path}/program_state_1"
        )
        assert raised.value.version == 1

    def test_raises_when_a_missing_version_is_loaded(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        with pytest.raises(tffl.program.ProgramStateNotFoundError) as raised:
            manager.load(4, {"v": 0})

        assert str(raised.value) == f"no program state version 4: {tmp_path}/program_state_4"

    @pytest.mark.parametrize(
        "version, error, message",
        [
            pytest.param(-1, ValueError, "expected a version >= 0, got -1", id="negative"),
            pytest.param(True, TypeError, "expected an int version, got True", id="bool"),
            pytest.param("1", TypeError, "expected an int version, got '1'", id="string"),
        ],
    )
    def test_raises_when_the_version_is_not_a_non_negative_int(
        self, tmp_path, version, error, message
    ):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        with pytest.raises(error) as raised:
            manager.save({"v": 0}, version)

        assert str(raised.value) == f"FileProgramStateManager: {message}"

    def test_raises_when_a_leaf_is_none(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))

        with pytest.raises(TypeError) as raised:
            manager.save({"a": {"b": None}}, 0)

        assert str(raised.value) == (
            "FileProgramStateManager: expected an array or scalar at 'a/b', got NoneType"
        )
        assert manager.get_versions() is None

    @pytest.mark.parametrize(
        "root_dir, prefix, message",
        [
            pytest.param("", "p_", "expected a root_dir, got an empty path", id="root_dir"),
            pytest.param("dir", "", "expected a prefix, got an empty string", id="prefix"),
        ],
    )
    def test_raises_when_constructed_with_an_empty_name(self, root_dir, prefix, message):
        with pytest.raises(ValueError) as raised:
            tffl.program.FileProgramStateManager(root_dir, prefix=prefix)

        assert str(raised.value) == f"FileProgramStateManager: {message}"


class TestLoadErrors:
    @pytest.mark.parametrize(
        "data, problem",
        [
            pytest.param(b"not a state", "is not a program state file", id="magic"),
            pytest.param(b"TFFLPST1\x00", "is truncated", id="truncated"),
            pytest.param(
                b"TFFLPST1" + struct.pack("<I", 0) + b"\x00\x00\x00\x00",
                "is corrupt (checksum mismatch)",
                id="checksum",
            ),
            pytest.param(
                _with_crc(b"TFFLPST1" + struct.pack("<I", 1) + struct.pack("<I", 9) + b"a"),
                "is corrupt (record 0 runs past the end)",
                id="record_past_end",
            ),
            pytest.param(
                _with_crc(
                    b"TFFLPST1"
                    + struct.pack("<I", 1)
                    + struct.pack("<I", 1)
                    + b"a"
                    + struct.pack("<Q", 2)
                    + b"\xff\xff"
                ),
                "is corrupt (record 0)",
                id="bad_tensor",
            ),
            pytest.param(
                _with_crc(b"TFFLPST1" + struct.pack("<I", 0) + b"extra"),
                "is corrupt (bytes after the records)",
                id="trailing",
            ),
        ],
    )
    def test_raises_naming_the_file_when_it_is_not_a_valid_state_file(
        self, tmp_path, data, problem
    ):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        _write(manager, 0, data)

        with pytest.raises(ValueError) as raised:
            manager.load(0, {})

        assert str(raised.value) == f"FileProgramStateManager: {tmp_path}/program_state_0 {problem}"

    def test_raises_when_a_byte_of_a_saved_state_changes(self, tmp_path):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        manager.save({"w": np.zeros([4], np.float32)}, 0)
        data = bytearray(pathlib.Path(manager.path_of(0)).read_bytes())
        data[20] ^= 1
        _write(manager, 0, bytes(data))

        with pytest.raises(ValueError) as raised:
            manager.load(0, {"w": np.zeros([4], np.float32)})

        assert str(raised.value) == (
            f"FileProgramStateManager: {tmp_path}/program_state_0 is corrupt (checksum mismatch)"
        )

    @pytest.mark.parametrize(
        "saved, structure, problem",
        [
            pytest.param(
                {"a": 1, "b": 2}, {"a": 0}, "holds 2 values, the structure has 1", id="count"
            ),
            pytest.param({"a": 1}, {"b": 0}, "holds 'a' where the structure has 'b'", id="path"),
            pytest.param(
                {"w": np.zeros([2], np.float32)},
                {"w": np.zeros([2], np.float64)},
                "holds 'w' as float32[2], the structure has float64[2]",
                id="dtype",
            ),
            pytest.param(
                {"w": [np.zeros([2, 3], np.float32)]},
                {"w": [np.zeros([3, 2], np.float32)]},
                "holds 'w/0' as float32[2,3], the structure has float32[3,2]",
                id="shape",
            ),
            pytest.param(
                {"s": np.int64(1)},
                {"s": 1.0},
                "holds 's' as int64, the structure has float64",
                id="python_scalar",
            ),
        ],
    )
    def test_raises_naming_the_mismatch_when_the_structure_differs(
        self, tmp_path, saved, structure, problem
    ):
        manager = tffl.program.FileProgramStateManager(str(tmp_path))
        manager.save(saved, 0)

        with pytest.raises(ValueError) as raised:
            manager.load(0, structure)

        assert str(raised.value) == f"FileProgramStateManager: {tmp_path}/program_state_0 {problem}"


class TestProgramStateManager:
    def test_returns_none_when_the_latest_version_vanishes_before_loading(self):
        class Vanishing(program_state_manager.ProgramStateManager):
            def get_versions(self):
                return [3]

            def save(self, program_state, version):
                raise NotImplementedError

            def load(self, version, structure):
                raise program_state_manager.ProgramStateNotFoundError(version, "memory")

        assert Vanishing().load_latest({}) == (None, 0)


class TestDocstringExamples:
    def test_runs_without_failures_when_module_examples_are_run(self):
        runner = doctest.DocTestRunner()
        module = file_program_state_manager
        for test in doctest.DocTestFinder().find(module, globs=dict(vars(module))):
            runner.run(test)
        results = runner.summarize(verbose=False)

        assert results.failed == 0
        assert results.attempted > 0
