"""The interface of program state managers: save and load versions of a program's state."""

from __future__ import annotations

import abc
from typing import Any
from typing import List
from typing import Optional
from typing import Tuple


class ProgramStateExistsError(Exception):
    """Raised when a version of the program state is saved twice."""

    def __init__(self, version: int, path: str):
        super().__init__(f"program state version {version} already exists: {path}")
        self.version = version


class ProgramStateNotFoundError(Exception):
    """Raised when a version of the program state that was never saved is loaded."""

    def __init__(self, version: int, path: str):
        super().__init__(f"no program state version {version}: {path}")
        self.version = version


class ProgramStateManager(abc.ABC):
    """Saves versions of a program's state (a nested structure of arrays) and loads them back.

    A program saves its state after each step it may resume from, numbering the
    versions (a training loop uses the round number); after a restart it loads
    the latest version and carries on from there.
    """

    @abc.abstractmethod
    def get_versions(self) -> Optional[List[int]]:
        """The saved versions in increasing order, or None when none is saved."""

    @abc.abstractmethod
    def save(self, program_state: Any, version: int) -> None:
        """Saves `program_state` as `version`.

        Raises:
          ProgramStateExistsError: if `version` is already saved.
        """

    @abc.abstractmethod
    def load(self, version: int, structure: Any) -> Any:
        """The state saved as `version`, in the containers of `structure`.

        Raises:
          ProgramStateNotFoundError: if `version` was never saved (or was removed).
        """

    def load_latest(self, structure: Any) -> Tuple[Any, int]:
        """The latest saved state and its version, or `(None, 0)` when none is saved.

        Args:
          structure: a state of the same shape (for example the initial state),
            whose containers and leaf types the loaded state takes.
        """
        versions = self.get_versions()
        if not versions:
            return None, 0
        latest = versions[-1]
        try:
            return self.load(latest, structure), latest
        except ProgramStateNotFoundError:
            return None, 0
