"""Errors of the executor (under elava's one root exception)."""

from __future__ import annotations

from elava.exceptions import ElavaError


class ExecutorError(ElavaError):
    """The executor could not carry out a step."""


class NotificationError(ExecutorError):
    """The notification webhook did not accept a notice after a few attempts."""


class EffectorError(ExecutorError):
    """AWS refused a check or an action; ``code`` is AWS's error code when there is one,
    ``calls`` the AWS requests made for it (their ids are in the audit trail)."""

    def __init__(self, message: str, code: str | None = None, calls: tuple = ()) -> None:
        super().__init__(message)
        self.code = code
        self.calls = calls
