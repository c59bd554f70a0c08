"""Logging for every process: a filter masks anything that looks like an email address or a
phone number in every log line (RULES R5), whatever logged it (our code, a driver's error)."""

from __future__ import annotations

import logging
import re

from broadcast.core.masking import mask_email, mask_phone

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d .-]{7,}\d")


def mask_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(re.sub(r"[ .-]", "", m.group())), text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class RoutineCronFilter(logging.Filter):
    """arq logs the start and end of every job at INFO; the scheduler and recovery crons tick
    every few seconds and would drown the log. Their failures are WARNING and still pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or "cron:" not in record.getMessage()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    # Provider libraries that log every command or request at INFO.
    for noisy in ("mail.log", "twilio", "twilio.http_client", "twilio.async_http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("arq.worker").addFilter(RoutineCronFilter())
