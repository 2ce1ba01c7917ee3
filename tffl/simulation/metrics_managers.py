"""Where a simulation's metrics go each round: a CSV file, TensorBoard, a progress line.

A metrics manager receives the nested metrics of a round with `release(metrics,
round_num)`. The managers here flatten the nesting into `/`-joined names
(`client_work/train/loss`); empty containers give no names.
"""

from __future__ import annotations

import abc
import collections
import collections.abc
import csv
import io
import os
import sys
import tempfile
from typing import Any
from typing import Callable
from typing import Dict
from typing import List
from typing import Mapping
from typing import Optional
from typing import TextIO
from typing import Tuple

import numpy as np
import tensorflow as tf

ROUND_NUM_KEY = "round_num"
ROUND_TIME_KEY = "round_time_in_seconds"
EVALUATION_KEY = "evaluation"
_TRAINING_LOSS_KEY = "client_work/train/loss"
_TRAINING_ACCURACY_KEY = "client_work/train/sparse_categorical_accuracy"
_PROGRESS_BAR_WIDTH = 20


def flatten_metrics(metrics: Mapping[str, Any]) -> "collections.OrderedDict[str, Any]":
    """The leaves of nested metrics under `/`-joined names, in the metrics' order.

    Mappings contribute their keys, namedtuples their field names, lists and
    tuples their indices.

    >>> flatten_metrics({'train': {'loss': 0.5, 'counts': [3, 4]}, 'aggregator': ()})
    OrderedDict([('train/loss', 0.5), ('train/counts/0', 3), ('train/counts/1', 4)])
    """
    flat = collections.OrderedDict()
    _flatten_into(flat, metrics, "")
    return flat


def _flatten_into(flat: Dict[str, Any], value: Any, prefix: str) -> None:
    if isinstance(value, collections.abc.Mapping):
        items = value.items()
    elif isinstance(value, tuple) and hasattr(type(value), "_fields"):
        items = zip(type(value)._fields, value)
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        flat[prefix] = value
        return
    for name, element in items:
        _flatten_into(flat, element, f"{prefix}/{name}" if prefix else str(name))


def _check_round_num(round_num: Any, owner: str) -> None:
    if not isinstance(round_num, (int, np.integer)) or isinstance(round_num, bool):
        raise TypeError(f"{owner}: expected an int round_num, got {round_num!r}")
    if round_num < 0:
        raise ValueError(f"{owner}: expected round_num >= 0, got {round_num}")


class MetricsManager(abc.ABC):
    """Receives each round's metrics; implementations write them somewhere."""

    @abc.abstractmethod
    def release(self, metrics: Mapping[str, Any], round_num: int) -> None:
        """Records `metrics` (a nested mapping of scalars and arrays) for `round_num`."""

    def clear_metrics(self, round_num: int) -> None:
        """Forgets the metrics of `round_num` and later rounds, where the manager can.

        A training loop that resumes from a saved state calls this with the first
        round it will run, so rounds repeated after a restart are written once.
        This default keeps everything (a stream cannot take back what it wrote).
        """
        del round_num


def _csv_cell(value: Any) -> str:
    if isinstance(value, tf.Tensor):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        value = value[()] if value.ndim == 0 else value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class CSVMetricsManager(MetricsManager):
    """Writes each round's flattened metrics as one row of a CSV file.

    The first column is `round_num`; the other columns are the metric names in
    the order they first appear. A round that brings new names rewrites the file
    with the wider header (earlier rows get empty cells); other rounds append a
    row. Numpy scalars are written as `str` writes them (`0.5361207` for a
    float32), arrays as lists.

    An existing file is read on construction and its rows kept; rounds must be
    released in increasing order after its last row, so a loop that resumes at
    round `r` first calls `clear_metrics(r)`.

    Args:
      csv_filepath: the file; its directory is created when the first row is written.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), 'metrics.csv')
    >>> manager = CSVMetricsManager(path)
    >>> manager.release({'train': {'loss': 0.5}}, round_num=1)
    >>> manager.release({'train': {'loss': 0.25, 'accuracy': 0.75}}, round_num=2)
    >>> with open(path) as f:
    ...     print(f.read(), end='')
    round_num,train/loss,train/accuracy
    1,0.5,
    2,0.25,0.75
    """

    def __init__(self, csv_filepath: str):
        if not csv_filepath:
            raise ValueError("CSVMetricsManager: expected a csv_filepath, got an empty path")
        self._path = os.fspath(csv_filepath)
        self._fieldnames: List[str] = [ROUND_NUM_KEY]
        self._rows: List[Dict[str, str]] = []
        if os.path.exists(self._path):
            self._fieldnames, self._rows = _read_csv(self._path)

    @property
    def csv_filepath(self) -> str:
        return self._path

    @property
    def latest_round_num(self) -> Optional[int]:
        """The round of the last row, or None when there is none."""
        return int(self._rows[-1][ROUND_NUM_KEY]) if self._rows else None

    def release(self, metrics: Mapping[str, Any], round_num: int) -> None:
        """Writes the row of `round_num`.

        Raises:
          ValueError: if `round_num` is not after the last round written.
        """
        _check_round_num(round_num, "CSVMetricsManager")
        latest = self.latest_round_num
        if latest is not None and round_num <= latest:
            raise ValueError(
                f"CSVMetricsManager: round {round_num} is not after the last round "
                f"written ({latest}); call clear_metrics({round_num}) first"
            )
        row = {ROUND_NUM_KEY: str(int(round_num))}
        for name, value in flatten_metrics(metrics).items():
            row[name] = _csv_cell(value)
        self._rows.append(row)
        new_names = [name for name in row if name not in self._fieldnames]
        if new_names or not os.path.exists(self._path):
            self._fieldnames += new_names
            self._rewrite()
        else:
            with open(self._path, "a", newline="") as f:
                csv.DictWriter(f, self._fieldnames, restval="").writerow(row)

    def clear_metrics(self, round_num: int) -> None:
        """Drops the rows of `round_num` and later rounds (rewriting the file if any go)."""
        _check_round_num(round_num, "CSVMetricsManager")
        kept = [row for row in self._rows if int(row[ROUND_NUM_KEY]) < round_num]
        if len(kept) != len(self._rows):
            self._rows = kept
            self._rewrite()

    def _rewrite(self) -> None:
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, self._fieldnames, restval="")
        writer.writeheader()
        writer.writerows(self._rows)
        directory = os.path.dirname(os.path.abspath(self._path))
        os.makedirs(directory, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", newline="") as f:
                f.write(text.getvalue())
            os.replace(temporary, self._path)
        except BaseException:
            if os.path.exists(temporary):
                os.remove(temporary)
            raise


def _read_csv(path: str) -> Tuple[List[str], List[Dict[str, str]]]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = [dict(row) for row in reader]
        fieldnames = list(reader.fieldnames or [])
    if not fieldnames or fieldnames[0] != ROUND_NUM_KEY:
        raise ValueError(
            f"CSVMetricsManager: {path} is not a metrics file (its first column is not "
            f"{ROUND_NUM_KEY})"
        )
    return fieldnames, rows


class TensorBoardManager(MetricsManager):
    """Writes each numeric metric to TensorBoard at step `round_num`.

    Scalars become `tf.summary.scalar`s, arrays `tf.summary.histogram`s, both
    named by the flattened metric name; strings are skipped.

    Args:
      summary_dir: the directory of the event files.

    >>> import os, tempfile
    >>> summary_dir = tempfile.mkdtemp()
    >>> TensorBoardManager(summary_dir).release({'train': {'loss': 0.5}}, round_num=1)
    >>> [name.startswith('events.out.tfevents') for name in os.listdir(summary_dir)]
    [True]
    """

    def __init__(self, summary_dir: str):
        if not summary_dir:
            raise ValueError("TensorBoardManager: expected a summary_dir, got an empty path")
        self._summary_dir = os.fspath(summary_dir)
        self._writer = tf.summary.create_file_writer(self._summary_dir)

    @property
    def summary_dir(self) -> str:
        return self._summary_dir

    def release(self, metrics: Mapping[str, Any], round_num: int) -> None:
        _check_round_num(round_num, "TensorBoardManager")
        with self._writer.as_default(step=int(round_num)):
            for name, value in flatten_metrics(metrics).items():
                array = np.asarray(value)
                if array.dtype.kind not in "biuf":
                    continue
                if array.ndim == 0:
                    tf.summary.scalar(name, float(array))
                else:
                    tf.summary.histogram(name, array.astype(np.float64))
        self._writer.flush()


def _is_number(value: Any) -> bool:
    return np.ndim(value) == 0 and np.asarray(value).dtype.kind in "biuf"


def _find(
    flat: Mapping[str, Any], accepts: Callable[[str], bool], evaluation: bool
) -> Optional[float]:
    """The first numeric value, inside `evaluation` or outside it, whose last name `accepts`."""
    prefix = EVALUATION_KEY + "/"
    for name, value in flat.items():
        if name.startswith(prefix) == evaluation and accepts(name.split("/")[-1]):
            if _is_number(value):
                return float(value)
    return None


def _training_value(
    flat: Mapping[str, Any], preferred: str, accepts: Callable[[str], bool]
) -> Optional[float]:
    if _is_number(flat.get(preferred)):
        return float(flat[preferred])
    return _find(flat, accepts, evaluation=False)


def _is_loss(name: str) -> bool:
    return name == "loss"


def _is_accuracy(name: str) -> bool:
    return name.endswith("accuracy")


def progress_line(metrics: Mapping[str, Any], round_num: int, total_rounds: int) -> str:
    """The one-line summary of a round: `round 3/10 time=0.21s loss=0.4321 accuracy=0.8812`.

    `time` is `round_time_in_seconds`; `loss` and `accuracy` are the training
    metrics `client_work/train/loss` and `.../sparse_categorical_accuracy`, else
    the first metric named `loss` or ending in `accuracy` outside `evaluation`;
    `eval_loss` and `eval_accuracy` come from the `evaluation` metrics. Fields
    without a value are left out.

    >>> progress_line({'client_work': {'train': {'loss': 0.43214, 'accuracy': 0.88}},
    ...                'round_time_in_seconds': 0.2061}, 3, 10)
    'round 3/10 time=0.21s loss=0.4321 accuracy=0.8800'
    """
    flat = flatten_metrics(metrics)
    fields = [f"round {round_num}/{total_rounds}"]
    if _is_number(flat.get(ROUND_TIME_KEY)):
        fields.append(f"time={float(flat[ROUND_TIME_KEY]):.2f}s")
    values = [
        ("loss", _training_value(flat, _TRAINING_LOSS_KEY, _is_loss)),
        ("accuracy", _training_value(flat, _TRAINING_ACCURACY_KEY, _is_accuracy)),
        ("eval_loss", _find(flat, _is_loss, evaluation=True)),
        ("eval_accuracy", _find(flat, _is_accuracy, evaluation=True)),
    ]
    fields += [f"{label}={value:.4f}" for label, value in values if value is not None]
    return " ".join(fields)


class ProgressReporter(MetricsManager):
    """Reports each round as a line of text (see `progress_line`).

    On a terminal (`stream.isatty()`) the line is one progress bar rewritten in
    place with `\\r`, ended by a newline after the last round or on `close()`;
    otherwise each round is one line, suited to log files.

    Args:
      total_rounds: the last round of the run.
      stream: where to write; default `sys.stderr` (looked up when writing).

    >>> import io
    >>> stream = io.StringIO()
    >>> reporter = ProgressReporter(2, stream)
    >>> reporter.release({'client_work': {'train': {'loss': 0.5}}}, round_num=1)
    >>> stream.getvalue()
    'round 1/2 loss=0.5000\\n'
    """

    def __init__(self, total_rounds: int, stream: Optional[TextIO] = None):
        self._total_rounds = total_rounds
        self._stream = stream
        self._width = 0

    @property
    def stream(self) -> TextIO:
        return sys.stderr if self._stream is None else self._stream

    def release(self, metrics: Mapping[str, Any], round_num: int) -> None:
        _check_round_num(round_num, "ProgressReporter")
        line = progress_line(metrics, round_num, self._total_rounds)
        stream = self.stream
        isatty = getattr(stream, "isatty", None)
        if isatty is not None and isatty():
            filled = min(round_num, self._total_rounds) * _PROGRESS_BAR_WIDTH
            filled //= max(self._total_rounds, 1)
            bar = "#" * filled + "-" * (_PROGRESS_BAR_WIDTH - filled)
            text = f"[{bar}] {line}"
            stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            if round_num >= self._total_rounds:
                self.close()
        else:
            stream.write(line + "\n")
        stream.flush()

    def close(self) -> None:
        """Ends a progress bar left open (after an interrupted run) with a newline."""
        if self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0
