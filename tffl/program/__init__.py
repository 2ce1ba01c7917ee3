"""Federated programs: what a program keeps across restarts (its state, saved by version).

Names follow TensorFlow Federated's `tff.program`.
"""

from tffl.program.file_program_state_manager import FileProgramStateManager
from tffl.program.program_state_manager import ProgramStateExistsError
from tffl.program.program_state_manager import ProgramStateManager
from tffl.program.program_state_manager import ProgramStateNotFoundError

__all__ = [
    "FileProgramStateManager",
    "ProgramStateExistsError",
    "ProgramStateManager",
    "ProgramStateNotFoundError",
]
