"""Program state saved to files: one file per version, leaves as serialized TensorProtos.

A program state is a nested structure of arrays and Python or numpy scalars in
lists, tuples, dicts, namedtuples, attrs classes and dataclasses (a learning
process's state is one). `save` flattens it in container order
(`tffl_ops.structure.flatten`) and writes each leaf, with its path in the
structure (`global_model_weights/trainable/0`), to `<root_dir>/<prefix><version>`:

    b"TFFLPST1"                      magic (8 bytes)
    count                            uint32, little-endian
    count times:
      path length, path              uint32, UTF-8 bytes
      tensor length, tensor          uint64, a serialized `tensorflow.TensorProto`
    crc32                            uint32 of every byte before it (zlib.crc32)

No Python objects are stored, so loading runs no code. The file is written to a
temporary file in `root_dir` and renamed into place, so a reader sees a complete
version or none. Loading needs a structure of the same shape (for example the
process's initial state): the paths, dtypes and shapes must match its leaves, and
each leaf comes back as the kind of its structure leaf (array, numpy scalar or
Python scalar).
"""

from __future__ import annotations

import collections.abc
import os
import struct
import tempfile
from typing import Any
from typing import List
from typing import Optional
from typing import Tuple
import zlib

from google.protobuf import message
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from tffl.program import program_state_manager
from tffl.types import computation_types
from tffl_ops import structure as structure_lib

MAGIC = b"TFFLPST1"
_COUNT = struct.Struct("<I")
_PATH_LENGTH = struct.Struct("<I")
_TENSOR_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


class FileProgramStateManager(program_state_manager.ProgramStateManager):
    """Saves each version of a program state to a file `<root_dir>/<prefix><version>`.

    Args:
      root_dir: the directory of the files; created if missing.
      prefix: the start of each file's name.
      keep_total: how many of the latest versions to keep; older ones are deleted
        after each save. 0 or less keeps every version.
      keep_first: also keep the first (lowest) version.

    Raises:
      ValueError: if `root_dir` or `prefix` is empty.

    >>> import tempfile, numpy as np
    >>> manager = FileProgramStateManager(tempfile.mkdtemp(), keep_total=2)
    >>> for version in range(4):
    ...     manager.save({'w': np.full([2], version, np.float32), 'step': version}, version)
    >>> manager.get_versions()
    [0, 2, 3]
    >>> manager.load_latest({'w': np.zeros([2], np.float32), 'step': 0})
    ({'w': array([3., 3.], dtype=float32), 'step': 3}, 3)
    """

    def __init__(
        self,
        root_dir: str,
        prefix: str = "program_state_",
        keep_total: int = 5,
        keep_first: bool = True,
    ):
        if not root_dir:
            raise ValueError("FileProgramStateManager: expected a root_dir, got an empty path")
        if not prefix:
            raise ValueError("FileProgramStateManager: expected a prefix, got an empty string")
        self._root_dir = os.fspath(root_dir)
        self._prefix = prefix
        self._keep_total = keep_total
        self._keep_first = keep_first
        os.makedirs(self._root_dir, exist_ok=True)

    @property
    def root_dir(self) -> str:
        return self._root_dir

    def path_of(self, version: int) -> str:
        """The file that holds `version`."""
        return os.path.join(self._root_dir, f"{self._prefix}{version}")

    def get_versions(self) -> Optional[List[int]]:
        """The saved versions in increasing order, or None when none is saved."""
        versions = []
        for name in os.listdir(self._root_dir):
            suffix = name[len(self._prefix) :]
            if (
                name.startswith(self._prefix)
                and suffix.isdigit()
                and suffix.isascii()
                and os.path.isfile(os.path.join(self._root_dir, name))
            ):
                versions.append(int(suffix))
        return sorted(versions) or None

    def save(self, program_state: Any, version: int) -> None:
        """Writes `program_state` as `version`, then deletes versions beyond `keep_total`.

        Args:
          program_state: a nested structure of arrays and scalars.
          version: a non-negative int.

        Raises:
          ProgramStateExistsError: if `version` is already saved.
          TypeError: if a leaf is not an array or scalar (for example None).
        """
        _check_version(version)
        path = self.path_of(version)
        if os.path.exists(path):
            raise program_state_manager.ProgramStateExistsError(version, path)
        _write_atomically(path, self._root_dir, _encode(program_state))
        self._remove_old_versions()

    def load(self, version: int, structure: Any) -> Any:
        """The state saved as `version`, in the containers of `structure`.

        Args:
          version: a saved version.
          structure: a state of the same shape, whose containers and leaf kinds
            (array, numpy scalar, Python scalar) the result takes.

        Raises:
          ProgramStateNotFoundError: if `version` is not saved.
          ValueError: naming the file, if it is not a program state file, is
            corrupt, or does not match `structure` (leaf count, path, dtype or shape).
        """
        _check_version(version)
        path = self.path_of(version)
        if not os.path.isfile(path):
            raise program_state_manager.ProgramStateNotFoundError(version, path)
        with open(path, "rb") as f:
            records = _decode(f.read(), path)
        expected = _flatten_with_paths(structure)
        if len(records) != len(expected):
            raise ValueError(
                f"FileProgramStateManager: {path} holds {len(records)} values, "
                f"the structure has {len(expected)}"
            )
        leaves = [_restore(record, template, path) for record, template in zip(records, expected)]
        return structure_lib.pack_as(structure, leaves)

    def _remove_old_versions(self) -> None:
        if self._keep_total <= 0:
            return
        versions = self.get_versions() or []
        start = 1 if self._keep_first else 0
        for version in versions[start : -self._keep_total]:
            os.remove(self.path_of(version))


def _check_version(version: Any) -> None:
    if not isinstance(version, (int, np.integer)) or isinstance(version, bool):
        raise TypeError(f"FileProgramStateManager: expected an int version, got {version!r}")
    if version < 0:
        raise ValueError(f"FileProgramStateManager: expected a version >= 0, got {version}")


def _flatten_with_paths(value: Any, prefix: str = "") -> List[Tuple[str, Any]]:
    """`(path, leaf)` pairs in the order of `tffl_ops.structure.flatten`."""
    if isinstance(value, collections.abc.Mapping):
        items = list(value.items())
    elif isinstance(value, tuple) and hasattr(type(value), "_fields"):
        items = list(zip(type(value)._fields, value))
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif hasattr(type(value), "__attrs_attrs__"):
        items = [(a.name, getattr(value, a.name)) for a in type(value).__attrs_attrs__]
    elif hasattr(type(value), "__dataclass_fields__"):
        items = [(name, getattr(value, name)) for name in type(value).__dataclass_fields__]
    else:
        return [(prefix, value)]
    pairs = []
    for name, element in items:
        pairs.extend(_flatten_with_paths(element, f"{prefix}/{name}" if prefix else str(name)))
    return pairs


def _as_array(leaf: Any, path: str) -> np.ndarray:
    if isinstance(leaf, tf.Tensor):
        return leaf.numpy()
    if isinstance(leaf, (np.ndarray, np.generic, bool, int, float, str, bytes)):
        return np.asarray(leaf)
    raise TypeError(
        f"FileProgramStateManager: expected an array or scalar at '{path}', "
        f"got {type(leaf).__name__}"
    )


def _tensor_type(array: np.ndarray) -> computation_types.TensorType:
    dtype = tf.string if array.dtype.kind in "USO" else tf.as_dtype(array.dtype)
    return computation_types.TensorType(dtype, array.shape)


def _encode(program_state: Any) -> bytes:
    pairs = _flatten_with_paths(program_state)
    chunks = [MAGIC, _COUNT.pack(len(pairs))]
    for path, leaf in pairs:
        tensor = tf.make_tensor_proto(_as_array(leaf, path)).SerializeToString()
        path_bytes = path.encode("utf-8")
        chunks += [_PATH_LENGTH.pack(len(path_bytes)), path_bytes]
        chunks += [_TENSOR_LENGTH.pack(len(tensor)), tensor]
    body = b"".join(chunks)
    return body + _CRC.pack(zlib.crc32(body))


def _decode(data: bytes, path: str) -> List[Tuple[str, tensor_pb2.TensorProto]]:
    """`(path, TensorProto)` records of a file's bytes."""
    if not data.startswith(MAGIC):
        raise ValueError(f"FileProgramStateManager: {path} is not a program state file")
    if len(data) < len(MAGIC) + _COUNT.size + _CRC.size:
        raise ValueError(f"FileProgramStateManager: {path} is truncated")
    body, crc = data[: -_CRC.size], _CRC.unpack(data[-_CRC.size :])[0]
    if zlib.crc32(body) != crc:
        raise ValueError(f"FileProgramStateManager: {path} is corrupt (checksum mismatch)")
    reader = _Reader(body, len(MAGIC), path)
    (count,) = reader.unpack(_COUNT, "the count")
    records = []
    for index in range(count):
        where = f"record {index}"
        (length,) = reader.unpack(_PATH_LENGTH, where)
        leaf_path = reader.take(length, where)
        (length,) = reader.unpack(_TENSOR_LENGTH, where)
        tensor = tensor_pb2.TensorProto()
        try:
            leaf_path = leaf_path.decode("utf-8")
            tensor.ParseFromString(reader.take(length, where))
        except (UnicodeDecodeError, message.DecodeError):
            raise ValueError(f"FileProgramStateManager: {path} is corrupt ({where})") from None
        records.append((leaf_path, tensor))
    if reader.offset != len(body):
        raise ValueError(f"FileProgramStateManager: {path} is corrupt (bytes after the records)")
    return records


class _Reader:
    """Reads a file's bytes front to back, raising a ValueError when they run out."""

    def __init__(self, data: bytes, offset: int, path: str):
        self._data = data
        self.offset = offset
        self._path = path

    def take(self, length: int, where: str) -> bytes:
        if self.offset + length > len(self._data):
            raise ValueError(
                f"FileProgramStateManager: {self._path} is corrupt ({where} runs past the end)"
            )
        chunk = self._data[self.offset : self.offset + length]
        self.offset += length
        return chunk

    def unpack(self, layout: struct.Struct, where: str) -> Tuple[int, ...]:
        return layout.unpack(self.take(layout.size, where))


def _restore(record: Tuple[str, Any], expected: Tuple[str, Any], path: str) -> Any:
    """The leaf of `record` as the kind of the structure's leaf, after checking they match."""
    saved_path, tensor = record
    leaf_path, template = expected
    if saved_path != leaf_path:
        raise ValueError(
            f"FileProgramStateManager: {path} holds '{saved_path}' where the structure "
            f"has '{leaf_path}'"
        )
    saved_type = computation_types.TensorType(
        tf.as_dtype(tensor.dtype), tuple(dim.size for dim in tensor.tensor_shape.dim)
    )
    expected_type = _tensor_type(_as_array(template, leaf_path))
    if saved_type != expected_type:
        raise ValueError(
            f"FileProgramStateManager: {path} holds '{leaf_path}' as {saved_type}, "
            f"the structure has {expected_type}"
        )
    array = tf.make_ndarray(tensor)
    if isinstance(template, np.generic):
        return array[()]
    if isinstance(template, str):
        return array.item().decode("utf-8")
    if isinstance(template, (bool, int, float, bytes)):
        return array.item()
    return array


def _write_atomically(path: str, directory: str, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
