"""The channels a worker can send through, by name. A new channel is one entry here."""

from __future__ import annotations

from broadcast.channels.base import Channel, ChannelName
from broadcast.channels.email.sender import EmailChannel
from broadcast.channels.health import AccountHealth
from broadcast.channels.push.sender import PushChannel
from broadcast.channels.sms.sender import SmsChannel
from broadcast.ratelimit import RateLimiter
from broadcast.rendering import Renderer
from broadcast.settings import Settings


def build_channels(settings: Settings, limiter: RateLimiter) -> dict[str, Channel]:
    renderer = Renderer()
    relays = AccountHealth(limiter.redis, ChannelName.email, settings.provider_probe_after_s)
    channels: dict[str, Channel] = {
        ChannelName.email: EmailChannel(settings, renderer, limiter, relays)
    }
    if settings.twilio_accounts:
        health = AccountHealth(limiter.redis, ChannelName.sms, settings.provider_probe_after_s)
        channels[ChannelName.sms] = SmsChannel(settings, limiter, renderer, health)
    if settings.vapid_private_key is not None:
        channels[ChannelName.push] = PushChannel(settings, renderer)
    return channels
