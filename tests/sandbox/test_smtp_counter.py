"""The benchmarks' count-only SMTP responder accepts what the real client sends, and counts it."""

from __future__ import annotations

from broadcast.channels.base import MessageContent, Outcome, Recipient
from broadcast.channels.email.sender import EmailChannel
from broadcast.sandbox.smtp_counter import MessageCounter, start_counting_server
from broadcast.settings import Settings, SmtpRelay


async def test_counts_every_message_sent_through_pooled_connections() -> None:
    counter = MessageCounter()
    server = await start_counting_server("127.0.0.1", 0, counter)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(
        env="dev", smtp_relays=[SmtpRelay(port=port, connections=3)], _env_file=None
    )  # type: ignore[call-arg]
    channel = EmailChannel(settings)
    content = MessageContent(1, "ENT indisponible", "investigating", "Panne.", "Collège", False)
    prepared = channel.prepare(content, "fr")
    try:
        results = [
            await channel.send(prepared, Recipient(n, f"parent{n}@familles.fr", "fr"))
            for n in range(25)
        ]
    finally:
        await channel.close()
        server.close()
    assert {r.outcome for r in results} == {Outcome.sent}
    assert counter.received == 25
