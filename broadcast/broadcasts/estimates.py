"""What a broadcast will cost and how long it will take, before it is sent (RULES S4).

Pure functions, no I/O and no settings: the caller renders the SMS text once per locale, counts
the recipients and passes the price per segment and the configured rates in.

SMS are billed per segment, per recipient: a text in UCS-2 (one « ê » is enough) holds 70
characters per SMS instead of 160, so the estimate gives, per locale, the encoding, the segments of
one message, the total and the cost, the warning naming the characters that forced UCS-2, and a
warning when one message bills more than three segments. A text over Twilio's 1,600-character
limit is refused (:class:`SmsTooLong`, a 422): Twilio would refuse every message (error 21617).

The expected duration is the recipients divided by the channel's configured rate: at 10 SMS per
second, 200,000 SMS take 20,000 s (5 h 33 min). The service paces its own submissions at that rate
so the provider's queue never fills (Twilio fails what waits in it for more than a few hours).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel

from broadcast.channels import sms_text
from broadcast.core.errors import InvalidInput


class SmsTooLong(InvalidInput):
    """422: the rendered SMS is over Twilio's body limit; nothing of it could be sent."""

    code = "sms_too_long"


class SmsLocaleEstimate(BaseModel):
    """One locale's rendered text: its encoding, segments and what it costs for its recipients."""

    locale: str
    encoding: sms_text.Encoding
    characters: int
    segments_per_message: int
    recipients: int
    total_segments: int
    cost_eur: float
    warning: str | None = None
    ucs2_characters: list[str] = []
    segments_warning: str | None = None
    """Set when one message bills more than three segments."""


class SmsEstimate(BaseModel):
    price_per_segment_eur: float
    locales: list[SmsLocaleEstimate]
    recipients: int
    total_segments: int
    cost_eur: float


def sms_estimate(
    rendered_text_by_locale: Mapping[str, str],
    recipients_by_locale: Mapping[str, int],
    price_per_segment: float,
) -> SmsEstimate:
    """Per locale of ``rendered_text_by_locale`` (sorted): encoding, segments, cost; and totals.

    A locale without a count in ``recipients_by_locale`` has no recipients (cost 0); the cost is
    in euros, rounded to the cent, the total being the sum of the rounded per-locale costs.
    """
    locales = []
    for locale in sorted(rendered_text_by_locale):
        analysis = sms_text.analyse(rendered_text_by_locale[locale])
        recipients = recipients_by_locale.get(locale, 0)
        total = analysis.segments * recipients
        locales.append(
            SmsLocaleEstimate(
                locale=locale,
                encoding=analysis.encoding,
                characters=analysis.units,
                segments_per_message=analysis.segments,
                recipients=recipients,
                total_segments=total,
                cost_eur=round(total * price_per_segment, 2),
                warning=sms_text.warning(analysis, "fr"),
                ucs2_characters=list(analysis.ucs2_characters),
                segments_warning=sms_text.segments_warning(analysis, "fr"),
            )
        )
    return SmsEstimate(
        price_per_segment_eur=price_per_segment,
        locales=locales,
        recipients=sum(e.recipients for e in locales),
        total_segments=sum(e.total_segments for e in locales),
        cost_eur=round(sum(e.cost_eur for e in locales), 2),
    )


def refuse_too_long(rendered_text_by_locale: Mapping[str, str]) -> None:
    """Raise :class:`SmsTooLong` naming the limit when a locale's text is over 1,600 characters."""
    for locale in sorted(rendered_text_by_locale):
        text = rendered_text_by_locale[locale]
        refusal = sms_text.too_long_message(text)
        if refusal is not None:
            raise SmsTooLong(
                refusal,
                f"The SMS would be {sms_text.body_chars(text)} characters long: over the "
                f"provider's {sms_text.MAX_BODY_CHARS}-character limit (Twilio error "
                f"{sms_text.TWILIO_BODY_TOO_LONG}), it cannot be sent. Shorten the message.",
                details=[{"field": "sms", "locale": locale, "limit": sms_text.MAX_BODY_CHARS}],
            )


def expected_duration_s(recipients: int, rate_per_s: float | None) -> float | None:
    """Seconds to submit ``recipients`` messages at ``rate_per_s``; None without a rate."""
    if rate_per_s is None:
        return None
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    return recipients / rate_per_s


def format_duration_fr(seconds: float | None) -> str | None:
    """``20000`` -> ``"5 h 33 min"``, ``90`` -> ``"2 min"``, ``12`` -> ``"12 s"``; None -> None.

    Below a minute in seconds (rounded up, so never "0 s" for some work), otherwise in hours
    and minutes rounded to the nearest minute.
    """
    if seconds is None:
        return None
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    if hours == 0:
        return f"{minutes} min"
    if minutes == 0:
        return f"{hours} h"
    return f"{hours} h {minutes} min"
