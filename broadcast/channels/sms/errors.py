"""What a failed Twilio create means for the delivery (RULES D4, D5), as data where it can be.

An answer from Twilio is unambiguous: 429 and 5xx are transient, any other 4xx permanent, and the
errors of :data:`SUPPRESSING_ERRORS` also suppress the number; 401 (error 20003, credentials
refused) is about the account, not the message: transient, and the account is paused. Without
an answer it depends on whether the request could have reached Twilio: a refused or unresolvable
connection sent nothing and is transient; any other failure may have created the message (see
:mod:`broadcast.channels.sms.reconcile`) and is "résultat incertain" until reconciled.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException  # type: ignore[import-untyped]

from broadcast.channels.base import Outcome, SendResult
from broadcast.channels.health import CREDENTIALS_REFUSED
from broadcast.core.masking import mask_phone

SUPPRESSING_ERRORS = frozenset({21610, 21211, 21614})
"""Twilio create errors that say the number must not be written to again: the recipient sent
STOP, the number is invalid, the number is not a mobile."""
CREDENTIALS_ERRORS = frozenset({20003})
"""Twilio errors that say our credentials are refused: the account is paused, SMS kept queued."""
UNCERTAIN = "résultat incertain"
_ERROR_TEXT_CHARS = 120
_PHONE_LIKE = re.compile(r"\+\d[\d ]{5,16}\d|\b\d{9,15}\b")
"""Numbers in an error text; Twilio error codes (five digits) stay readable."""


def is_ambiguous(exc: BaseException) -> bool:
    """Whether a failed create may still have created the message (reconcile before retrying)."""
    return not isinstance(exc, TwilioRestException | aiohttp.ClientConnectorError)


def failure_result(
    delivery_id: int, exc: BaseException, retry_after_s: float | None = None
) -> SendResult:
    """The :class:`SendResult` for a failed create (see the module docstring);
    ``retry_after_s``: the ``Retry-After`` Twilio answered with, carried by a transient result."""
    if isinstance(exc, TwilioRestException):
        return _twilio_error(delivery_id, exc, retry_after_s)
    if isinstance(exc, aiohttp.ClientConnectorError):  # nothing was sent
        return SendResult(delivery_id, Outcome.transient, error="connection failed")
    return SendResult(delivery_id, Outcome.permanent, error=f"{UNCERTAIN} ({type(exc).__name__})")


def _twilio_error(delivery_id: int, exc: Any, retry_after_s: float | None) -> SendResult:
    status, code = int(exc.status), exc.code
    error = f"twilio {status} {code or ''} {exc.msg or ''}"
    error = _PHONE_LIKE.sub(lambda match: mask_phone(match.group()), " ".join(error.split()))
    error = error[:_ERROR_TEXT_CHARS]
    if code in SUPPRESSING_ERRORS:
        return SendResult(delivery_id, Outcome.permanent, error=error, suppress=True)
    if status == 401 or code in CREDENTIALS_ERRORS:  # the account, not the message: it waits
        return SendResult(delivery_id, Outcome.transient, error=error, held=CREDENTIALS_REFUSED)
    if status == 429 or status >= 500:
        return SendResult(delivery_id, Outcome.transient, error=error, retry_after_s=retry_after_s)
    return SendResult(delivery_id, Outcome.permanent, error=error)
