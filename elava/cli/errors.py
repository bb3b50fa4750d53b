"""Failures a user can cause or meet: one line on stderr and a documented exit code.

Every command runs through `ElavaGroup` (the root group of `elava`), so exceptions are
turned into messages here, in one place, not by try/except in each command.
``elava --debug`` or ``ELAVA_DEBUG=1`` prints the traceback above the line.
The codes are documented in docs/operations.md.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import TyperException

from elava.exceptions import ElavaError, SettingsError

OK, ERROR, USAGE, PARTIAL = 0, 1, 2, 3

# AWS error codes meaning "these credentials are not accepted" (not "not allowed to").
REFUSED_CREDENTIALS = frozenset({
    "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure",
    "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "RequestExpired", "InvalidToken",
})


class ElavaGroup(TyperGroup):
    """The root command group: runs a command, and reports what it raises as one line."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (TyperException, typer.Exit, typer.Abort, BrokenPipeError):
            raise  # usage errors, exit codes, Ctrl-C and `| head`: typer reports them already
        except Exception as exc:
            # Refused connections' futures are collected later and asyncio would print their
            # tracebacks: the one line below already says what they hold.
            logging.getLogger("asyncio").setLevel(logging.CRITICAL)
            message, code = describe(exc)
            report(exc, message, debug=bool(ctx.params.get("debug")))
            raise typer.Exit(code) from None


def report(exc: BaseException, message: str, debug: bool) -> None:
    from elava.cli.common import err_console

    if debug:
        err_console.print("".join(traceback.format_exception(exc)), markup=False, highlight=False, end="")
    err_console.print(f"[bold red]error:[/] {escape(one_line(message))}", highlight=False)


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def describe(exc: BaseException) -> tuple[str, int]:
    """What to tell the user about ``exc``, and the exit code."""
    exc = _innermost(exc)
    for kind, explain, code in _known():
        if isinstance(exc, kind):
            return explain(exc), code
    return f"unexpected {type(exc).__name__}: {exc} (elava --debug shows the traceback)", ERROR


def _innermost(exc: BaseException) -> BaseException:
    """A task group's error is the one error inside it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _known() -> list[tuple[Any, Callable[[Any], str], int]]:
    # Imported on failure only: the libraries are slow to import and most runs succeed.
    from aiokafka.errors import KafkaConnectionError
    from botocore import exceptions as aws

    return [
        (SettingsError, str, USAGE),
        (ElavaError, str, ERROR),
        (KafkaConnectionError, lambda e: f"cannot reach the Kafka broker (kafka.bootstrap_servers): {e}", ERROR),
        ((aws.NoCredentialsError, aws.PartialCredentialsError), _no_credentials, ERROR),
        ((aws.ProfileNotFound, aws.CredentialRetrievalError, aws.TokenRetrievalError, aws.SSOError),
         lambda e: f"AWS credentials: {e}", ERROR),
        (aws.ClientError, _client_error, ERROR),
        (aws.NoRegionError, lambda e: f"{e} (set providers.aws.regions or AWS_DEFAULT_REGION)", USAGE),
        ((aws.ConnectionError, aws.HTTPClientError),
         lambda e: f"cannot reach AWS: {e} (check the network, --endpoint-url or AWS_ENDPOINT_URL)", ERROR),
        (aws.BotoCoreError, lambda e: f"AWS: {e}", ERROR),
        (OSError, lambda e: str(e) or type(e).__name__, ERROR),
    ]


def _no_credentials(exc: Exception) -> str:
    return (f"no AWS credentials: {exc} (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or run where an instance or pod role is available)")


def _client_error(exc: Any) -> str:
    error = exc.response.get("Error", {})
    code, text = error.get("Code", "?"), error.get("Message", "")
    operation = getattr(exc, "operation_name", "a call")
    if code in REFUSED_CREDENTIALS:
        return f"AWS refused the credentials ({code} on {operation}): {text}"
    return f"AWS answered {code} to {operation}: {text}"
