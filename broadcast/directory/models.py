"""Organisations, contacts, their addresses, and the addresses that must not be written to."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from broadcast.core.dbtypes import UtcDateTime, timestamp_field


class OrganisationKind(enum.StrEnum):
    region_academique = "region_academique"
    academie = "academie"
    departement = "departement"
    etablissement = "etablissement"


class ContactRole(enum.StrEnum):
    guardian = "guardian"
    pupil = "pupil"
    teacher = "teacher"
    staff = "staff"
    head = "head"
    follower = "follower"
    """An anonymous web-push follower of an organisation's notices."""


class Organisation(SQLModel, table=True):
    """A node of région académique > académie > département > établissement.

    ``path`` is the materialised path of ids (``/1/4/12/``): a subtree is ``path LIKE '/1/4/%'``.
    """

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    kind: str = Field(max_length=32)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    path: str = Field(default="", max_length=255, index=True)
    school_type: str | None = Field(default=None, max_length=32)
    created_at: datetime = timestamp_field()


class Contact(SQLModel, table=True):
    """``(organisation_id, source, external_id)`` is the importer's stable key: a re-import
    updates the row it created instead of adding another."""

    __table_args__ = (
        Index("ix_contact_org_role", "organisation_id", "role"),
        UniqueConstraint("organisation_id", "source", "external_id", name="uq_contact_source_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    source: str | None = Field(default=None, max_length=16)
    external_id: str | None = Field(default=None, max_length=64)
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)
    division: str | None = Field(default=None, max_length=32)
    level: str | None = Field(default=None, max_length=32)
    locale: str = Field(default="fr", max_length=8)
    left_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ContactPoint(SQLModel, table=True):
    """One address of a contact on one channel (email, E.164 mobile, push subscription)."""

    __tablename__ = "contact_point"
    __table_args__ = (
        UniqueConstraint("contact_id", "channel", "address", name="uq_contact_point"),
        Index("ix_contact_point_channel_address", "channel", "address"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    created_at: datetime = timestamp_field()


class Suppression(SQLModel, table=True):
    """An address that must not be written to on a channel; outlives contact re-imports."""

    __table_args__ = (UniqueConstraint("channel", "address", name="uq_suppression"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    address: str = Field(max_length=320)
    reason: str = Field(max_length=32)
    detail: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()


class PushSubscription(SQLModel, table=True):
    """A browser's web-push subscription (RULES P1, P2). Its contact point is
    ``ContactPoint(channel="push", address=str(id))``: the planner and the ledger address it by id,
    the endpoint and keys stay here. An anonymous follower of an organisation is a contact of role
    ``follower`` with no name."""

    __tablename__ = "push_subscription"

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    endpoint: str = Field(max_length=1000, unique=True)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    user_agent: str | None = Field(default=None, max_length=300)
    created_at: datetime = timestamp_field()
    last_success_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
