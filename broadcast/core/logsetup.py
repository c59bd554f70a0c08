"""Logging for every process: a filter masks anything that looks like an email address or a
phone number in every log line (RULES R5), whatever logged it (our code, a driver's error)."""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime

from broadcast.core.masking import mask_email, mask_phone

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers as people and providers write them: international with + or 00, French
# national (06 12 34 56 78), or E.164 digits without the + (33612345678). Other numbers (SMTP
# replies, Twilio error codes, counts, ids) are diagnostics and stay readable.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d[\d .-]{6,}\d(?!\d)"
    r"|(?<![\w+])0[1-9](?:[ .-]?\d{2}){4}(?!\d)"
    r"|(?<![\w+])33[1-9]\d{8}(?!\d)"
)


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


class RoutineAccessFilter(logging.Filter):
    """uvicorn logs every request at INFO; a path called thousands of times a second, whose
    answers the metrics count (Twilio's status callbacks), would drown the log and cost its
    process a tenth of each request. Its refusals and failures (4xx, 5xx) still pass."""

    def __init__(self, paths: frozenset[str]) -> None:
        super().__init__()
        self.paths = paths

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, _, path, _, status = args
        return path not in self.paths or not isinstance(status, int) or status >= 400


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per event, for log collectors; the masking filter has run before."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            event["exception"] = record.exc_text
        return json.dumps(event, ensure_ascii=False)


def configure_logging_from_env() -> None:
    """``BROADCAST_LOG_LEVEL`` (INFO) and ``BROADCAST_LOG_FORMAT`` (``text`` or ``json``)."""
    configure_logging(
        os.environ.get("BROADCAST_LOG_LEVEL", "INFO"),
        json_lines=os.environ.get("BROADCAST_LOG_FORMAT", "text") == "json",
    )


def configure_logging(level: str, *, json_lines: bool = False) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
        if json_lines:
            handler.setFormatter(JsonLinesFormatter())
    # Provider libraries that log every command or request at INFO.
    for noisy in ("mail.log", "twilio", "twilio.http_client", "twilio.async_http_client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("arq.worker").addFilter(RoutineCronFilter())
