"""RULES R5: no log line carries a whole email address or phone number, whoever wrote it."""

from __future__ import annotations

import io
import logging

from broadcast.core.logsetup import (
    MaskingFilter,
    RoutineAccessFilter,
    RoutineCronFilter,
    mask_text,
)


def test_addresses_and_numbers_are_masked_in_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("refused %s and %s", "jeanne.martin@exemple.fr", "+33612345678")
        try:
            raise ValueError("Key (address)=(paul@exemple.fr) already exists")
        except ValueError:
            logger.exception("insert failed for 06 12 34 56 78")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    for secret in ("jeanne.martin@exemple.fr", "+33612345678", "paul@exemple.fr", "06 12 34 56 78"):
        assert secret not in text
    assert "j***n@e***.fr" in text and "+336******78" in text


def test_ordinary_numbers_are_left_alone() -> None:
    assert mask_text("broadcast 42 planned 2000 deliveries") == (
        "broadcast 42 planned 2000 deliveries"
    )


def test_routine_cron_ticks_are_dropped_and_their_failures_kept() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.cron")
    logger.addHandler(handler)
    logger.addFilter(RoutineCronFilter())
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("  1.02s → cron:start_scheduled()")
        logger.info("  0.01s → 4f2c:dispatch(12)")
        logger.warning("  0.50s ! cron:recover failed, Retry at 60.00s")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "  0.01s → 4f2c:dispatch(12)",
        "  0.50s ! cron:recover failed, Retry at 60.00s",
    ]


def test_routine_callback_answers_leave_the_access_log_and_refusals_stay() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("test.access")
    logger.addHandler(handler)
    logger.addFilter(RoutineAccessFilter(frozenset({"/providers/twilio/status"})))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    line = '%s - "%s %s HTTP/%s" %d'
    try:
        logger.info(line, "127.0.0.1:1", "POST", "/providers/twilio/status", "1.1", 204)
        logger.info(line, "127.0.0.1:2", "POST", "/providers/twilio/status", "1.1", 403)
        logger.info(line, "127.0.0.1:3", "GET", "/healthz", "1.1", 200)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        '127.0.0.1:2 - "POST /providers/twilio/status HTTP/1.1" 403',
        '127.0.0.1:3 - "GET /healthz HTTP/1.1" 200',
    ]
