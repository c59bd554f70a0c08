"""The channels a worker can send through, by name. A new channel is one entry here."""

from __future__ import annotations

from broadcast.channels.base import Channel, ChannelName
from broadcast.channels.email import EmailChannel
from broadcast.ratelimit import RateLimiter
from broadcast.rendering import Renderer
from broadcast.settings import Settings


def build_channels(settings: Settings, limiter: RateLimiter) -> dict[str, Channel]:
    renderer = Renderer()
    return {ChannelName.email: EmailChannel(settings, renderer, limiter)}
