"""Helpers for testing tffl programs: reference programs shared by the test suites."""
