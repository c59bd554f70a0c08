"""Exercise broadcasts: every channel says "EXERCICE" first, and a seed list of test addresses
may replace the audience.

With a seed list the audience is not used for delivery (it is still checked against the
caller's scope, like any draft's): an exercise is meant to reach the test addresses only,
whoever the audience would have named. Without one, the exercise reaches its audience.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from broadcast.core.errors import InvalidInput

if TYPE_CHECKING:
    from broadcast.broadcasts.schemas import ExerciseAddress

MAX_SEED_ADDRESSES = 50


def seed_list(addresses: list[ExerciseAddress], channels: list[str]) -> list[dict[str, str]]:
    """The seed list as stored on the broadcast, without duplicates; every address must be on
    one of the broadcast's channels."""
    outside = sorted({a.channel for a in addresses} - set(channels))
    if outside:
        raise InvalidInput(
            "Adresses de test sur un canal non choisi pour cette diffusion : "
            f"{', '.join(outside)}.",
            f"Test addresses on a channel this broadcast does not use: {', '.join(outside)}.",
        )
    unique = dict.fromkeys((a.channel, a.address) for a in addresses)
    return [{"channel": channel, "address": address} for channel, address in unique]
