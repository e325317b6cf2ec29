"""The error of a landed file that cannot be read at all."""

from __future__ import annotations

from retention.landing.safe_text import printable


class LandingFileError(Exception):
    """A landed file that cannot be read at all; names the file and what is wrong with it."""

    def __init__(self, file: str, problem: str):
        # The name comes from outside: a newline in it could forge a log line, so it is escaped here, once.
        # Not cut short (a path is at most a few thousand characters): the error must find the file.
        file = printable(file, limit=None)
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem
