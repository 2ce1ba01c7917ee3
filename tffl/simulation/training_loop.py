"""The simulation training loop: rounds of a process, with checkpoints, metrics and progress.

Rounds are numbered from 1; round 0 is the initial state, which a fresh run
saves (and evaluates, given an `evaluation_fn`) before training. After round
`r` the loop saves the state as version `r` every `rounds_per_checkpoint`
rounds and at the last round. A run started again with the same checkpoint
directory loads the latest version `v` and continues with round `v + 1`: the
metrics managers first forget rounds from `v + 1` on (`clear_metrics`), so each
round is recorded once.
"""

from __future__ import annotations

import collections
import time
from typing import Any
from typing import Callable
from typing import List
from typing import Mapping
from typing import NamedTuple
from typing import Optional
from typing import Sequence
from typing import Union

from tffl.program import file_program_state_manager
from tffl.program import program_state_manager as program_state_manager_lib
from tffl.simulation import metrics_managers as metrics_managers_lib
from tffl.templates import iterative_process


class TrainingResult(NamedTuple):
    """What `run_training` returns: the final state and the last round's metrics."""

    state: Any
    metrics: Any


def run_training(
    process: iterative_process.IterativeProcess,
    client_selection_fn: Callable[[int], Any],
    total_rounds: int,
    evaluation_fn: Optional[Callable[[Any, int], Mapping[str, Any]]] = None,
    program_state_manager: Optional[program_state_manager_lib.ProgramStateManager] = None,
    checkpoint_dir: Optional[str] = None,
    metrics_managers: Optional[Sequence[metrics_managers_lib.MetricsManager]] = None,
    rounds_per_checkpoint: int = 1,
    rounds_per_evaluation: int = 1,
    progress: Union[None, bool, Any] = None,
    round_metrics_fn: Optional[Callable[[int], Mapping[str, Any]]] = None,
) -> TrainingResult:
    """Runs rounds `1..total_rounds` of `process`, resuming from a saved state if there is one.

    Round `r` calls `process.next(state, client_selection_fn(r))` and releases
    the round's metrics, with the round number, to each metrics manager:
    `process.next`'s metrics plus `round_time_in_seconds` (the time of
    `client_selection_fn` and `process.next`) and, in rounds that evaluate,
    `evaluation` (what `evaluation_fn(state, r)` returned for the new state).
    Evaluation runs every `rounds_per_evaluation` rounds, at the last round and
    on the initial state (released as round 0) of a fresh run.

    *Resuming.* With a `checkpoint_dir` (or a `program_state_manager`), a run
    finding a saved state continues after it. The resumed run ends with the same
    state as an uninterrupted one provided each round depends only on its
    number: `client_selection_fn(r)` returns the same clients and data for the
    same `r` (seed it, as `build_client_datasets_fn(..., random_seed=s)` is,
    and seed any shuffling in the datasets) and the process draws no unseeded
    randomness.

    Args:
      process: an `IterativeProcess` (a `LearningProcess`, say) whose `next`
        returns `(state, metrics)` or an output with `.state` and `.metrics`.
      client_selection_fn: `round_num -> client data`, the second argument of
        `process.next` (for example a list of datasets).
      total_rounds: the last round, >= 0.
      evaluation_fn: `(state, round_num) -> mapping of metrics`, or None.
      program_state_manager: where states are saved and loaded, or None.
      checkpoint_dir: a directory for a `FileProgramStateManager`, or None.
      metrics_managers: `MetricsManager`s to release each round's metrics to.
      rounds_per_checkpoint: save the state every this many rounds (and at the last).
      rounds_per_evaluation: evaluate every this many rounds (and at the last).
      progress: where a `ProgressReporter` writes a line per round: None (or
        True) for `sys.stderr`, False for nowhere, or a stream.
      round_metrics_fn: `round_num -> mapping` of metrics to release with each
        round's (the privacy spent so far, say: `{'epsilon': tracker.after_round(r)}`);
        its keys sit beside the process's metrics.

    Returns:
      `TrainingResult(state, metrics)`: the state after `total_rounds` and the
      metrics released for the last round run (round 0's, or `{}` when a
      saved state was already at or past `total_rounds`).

    Raises:
      ValueError: if both `checkpoint_dir` and `program_state_manager` are given,
        or a count is out of range.
      TypeError: if an argument is of the wrong kind.

    >>> import numpy as np, tffl
    >>> init = tffl.tf_computation(lambda: np.int32(0))
    >>> add = tffl.tf_computation(lambda s, x: (s + x, {'sum': s + x}), np.int32, np.int32)
    >>> process = tffl.templates.IterativeProcess(init, add)
    >>> state, metrics = run_training(process, lambda r: r, total_rounds=4, progress=False)
    >>> int(state), int(metrics['sum'])
    (10, 10)
    """
    state_manager = _state_manager(program_state_manager, checkpoint_dir)
    managers = _check_arguments(
        process,
        client_selection_fn,
        total_rounds,
        evaluation_fn,
        metrics_managers,
        rounds_per_checkpoint,
        rounds_per_evaluation,
    )
    if round_metrics_fn is not None and not callable(round_metrics_fn):
        raise TypeError(
            "run_training round_metrics_fn: expected a function of the round number, "
            f"got {type(round_metrics_fn).__name__}"
        )
    reporter = _progress_reporter(progress, total_rounds)
    if reporter is not None:
        managers.append(reporter)

    state = process.initialize()
    first_round = 0
    if state_manager is not None:
        saved, version = state_manager.load_latest(state)
        if saved is not None:
            state, first_round = saved, version + 1
    for manager in managers:
        manager.clear_metrics(first_round)

    metrics = collections.OrderedDict()
    try:
        if first_round == 0:
            if evaluation_fn is not None:
                metrics[metrics_managers_lib.EVALUATION_KEY] = _evaluate(evaluation_fn, state, 0)
                _release(managers, metrics, 0)
            if state_manager is not None:
                state_manager.save(state, 0)
            first_round = 1
        for round_num in range(first_round, total_rounds + 1):
            start = time.perf_counter()
            output = process.next(state, client_selection_fn(round_num))
            round_time = time.perf_counter() - start
            state, round_metrics = _state_and_metrics(output)
            metrics = collections.OrderedDict(round_metrics)
            metrics[metrics_managers_lib.ROUND_TIME_KEY] = round_time
            if round_metrics_fn is not None:
                metrics.update(round_metrics_fn(round_num))
            last = round_num == total_rounds
            if evaluation_fn is not None and (last or round_num % rounds_per_evaluation == 0):
                metrics[metrics_managers_lib.EVALUATION_KEY] = _evaluate(
                    evaluation_fn, state, round_num
                )
            _release(managers, metrics, round_num)
            if state_manager is not None and (last or round_num % rounds_per_checkpoint == 0):
                state_manager.save(state, round_num)
    finally:
        if reporter is not None:
            reporter.close()
    return TrainingResult(state, metrics)


def _state_manager(
    program_state_manager: Optional[program_state_manager_lib.ProgramStateManager],
    checkpoint_dir: Optional[str],
) -> Optional[program_state_manager_lib.ProgramStateManager]:
    if program_state_manager is not None and checkpoint_dir is not None:
        raise ValueError(
            "run_training: expected a checkpoint_dir or a program_state_manager, got both"
        )
    if checkpoint_dir is not None:
        return file_program_state_manager.FileProgramStateManager(checkpoint_dir)
    if program_state_manager is not None and not isinstance(
        program_state_manager, program_state_manager_lib.ProgramStateManager
    ):
        raise TypeError(
            f"run_training program_state_manager: expected a ProgramStateManager, "
            f"got {type(program_state_manager).__name__}"
        )
    return program_state_manager


def _check_arguments(
    process,
    client_selection_fn,
    total_rounds,
    evaluation_fn,
    metrics_managers,
    rounds_per_checkpoint,
    rounds_per_evaluation,
) -> List[metrics_managers_lib.MetricsManager]:
    """The metrics managers as a new list, after checking every argument."""
    if not isinstance(process, iterative_process.IterativeProcess):
        raise TypeError(
            f"run_training process: expected an IterativeProcess, got {type(process).__name__}"
        )
    functions = (("client_selection_fn", client_selection_fn), ("evaluation_fn", evaluation_fn))
    for name, fn in functions:
        if (fn is not None or name == "client_selection_fn") and not callable(fn):
            raise TypeError(f"run_training {name}: expected a callable, got {type(fn).__name__}")
    for name, count, minimum in (
        ("total_rounds", total_rounds, 0),
        ("rounds_per_checkpoint", rounds_per_checkpoint, 1),
        ("rounds_per_evaluation", rounds_per_evaluation, 1),
    ):
        if not isinstance(count, int) or isinstance(count, bool) or count < minimum:
            raise ValueError(f"run_training: expected {name} >= {minimum}, got {count!r}")
    managers = list(metrics_managers or [])
    for manager in managers:
        if not isinstance(manager, metrics_managers_lib.MetricsManager):
            raise TypeError(
                f"run_training metrics_managers: expected MetricsManagers, "
                f"got {type(manager).__name__}"
            )
    return managers


def _progress_reporter(progress: Any, total_rounds: int):
    if progress is False:
        return None
    if progress is None or progress is True:
        return metrics_managers_lib.ProgressReporter(total_rounds)
    if not callable(getattr(progress, "write", None)):
        raise TypeError(
            f"run_training progress: expected None, False or a stream, got "
            f"{type(progress).__name__}"
        )
    return metrics_managers_lib.ProgressReporter(total_rounds, progress)


def _evaluate(evaluation_fn, state, round_num: int) -> Mapping[str, Any]:
    metrics = evaluation_fn(state, round_num)
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"run_training evaluation_fn: expected a mapping of metrics, "
            f"got {type(metrics).__name__}"
        )
    return metrics


def _state_and_metrics(output: Any):
    if hasattr(output, "state") and hasattr(output, "metrics"):
        state, metrics = output.state, output.metrics
    elif isinstance(output, (tuple, list)) and len(output) == 2:
        state, metrics = output
    else:
        raise TypeError(
            f"run_training: expected process.next to return (state, metrics), "
            f"got {type(output).__name__}"
        )
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"run_training: expected process.next's metrics to be a mapping, "
            f"got {type(metrics).__name__}"
        )
    return state, metrics


def _release(managers, metrics: Mapping[str, Any], round_num: int) -> None:
    for manager in managers:
        manager.release(metrics, round_num)
