"""Each message of a broadcast as its recipients will see it, rendered by the channels' own
functions (the ones sending uses): the email's subject and text, the SMS text, the push
notification's title and body. Nothing is sent and no provider is contacted."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from broadcast.broadcasts.models import Broadcast
from broadcast.channels.base import ChannelName
from broadcast.channels.email.sender import render_email_parts
from broadcast.channels.push.sender import render_push_payload
from broadcast.channels.sms.sender import render_sms_text, stop_number
from broadcast.deliveries.dispatch import message_content
from broadcast.rendering import UNSUBSCRIBE_PLACEHOLDER, Renderer
from broadcast.settings import Settings

UNSUBSCRIBE_SHOWN = "(lien de désinscription propre à chaque destinataire)"


@dataclass(frozen=True, slots=True)
class RecipientView:
    channel: str
    title: str
    """The email's subject, the notification's title; empty for an SMS."""
    body: str


async def recipient_views(
    session: AsyncSession,
    broadcast: Broadcast,
    settings: Settings,
    locale: str = "fr",
    renderer: Renderer | None = None,
) -> list[RecipientView]:
    """One view per channel of the broadcast, in its order."""
    content = await message_content(session, broadcast)
    renderer = renderer or Renderer()
    views = []
    for channel in broadcast.channels:
        if channel == ChannelName.email.value:
            parts = render_email_parts(renderer, content, locale)
            text = parts["text"].replace(UNSUBSCRIBE_PLACEHOLDER, UNSUBSCRIBE_SHOWN)
            views.append(RecipientView(channel, parts["subject"].strip(), text.strip()))
        elif channel == ChannelName.sms.value:
            sms = render_sms_text(renderer, content, locale, stop_number(settings))
            views.append(RecipientView(channel, "", sms))
        elif channel == ChannelName.push.value:
            payload = render_push_payload(renderer, content, locale)
            views.append(RecipientView(channel, payload["title"], payload["body"]))
    return views
