"""What an AWS failure means for a scan: its error code and its class.

The class travels in a failed scan marker (``throttled``, ``access-denied``,
``region-disabled``, ``endpoint-error``, ``other``) so operators see at a glance why
an account/region/type is not complete, and the worker knows not to infer deletions.
"""

from __future__ import annotations

import asyncio

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from collectors.exceptions import DeliveryFailed
from elava.events import ErrorClass

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "RequestThrottled", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown",
    "ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
    "EC2ThrottledException", "PriorRequestNotComplete",
})
ACCESS_DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure",
    "UnauthorizedAccess", "AllAccessDisabled", "Forbidden",
    # the credentials themselves refused (unknown, mistyped, expired keys)
    "InvalidClientTokenId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
    "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken",
})
REGION_DISABLED_CODES = frozenset({"OptInRequired", "RegionDisabledException", "InvalidRegion"})

_ENDPOINT_ERRORS = (
    EndpointConnectionError, BotoConnectionError, ConnectionClosedError, ReadTimeoutError,
    HTTPClientError, ConnectionError, asyncio.TimeoutError,
)
_MAX_ERROR_TEXT = 300
# What getting a session for an account can fail with: AWS said no (a role that
# cannot be assumed, refused credentials), or did not answer.
SESSION_ERRORS = (ClientError, BotoCoreError, ConnectionError, asyncio.TimeoutError)


def root_error(exc: BaseException) -> BaseException:
    """The first real error inside task groups (detail calls run in a TaskGroup)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def error_code(exc: BaseException) -> str | None:
    exc = root_error(exc)
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


def classify_error(exc: BaseException) -> ErrorClass:
    exc = root_error(exc)
    if isinstance(exc, DeliveryFailed):
        return "delivery-failed"
    code = error_code(exc)
    if code in THROTTLING_CODES:
        return "throttled"
    if code in ACCESS_DENIED_CODES or isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return "access-denied"
    if code in REGION_DISABLED_CODES:
        return "region-disabled"
    if isinstance(exc, _ENDPOINT_ERRORS):
        return "endpoint-error"
    return "other"


def describe_error(exc: BaseException) -> str:
    """A short, single-line account of the error for a scan marker."""
    exc = root_error(exc)
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 1] + "…"
