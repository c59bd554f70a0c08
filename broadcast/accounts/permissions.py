"""The role x permission matrix, in one place. Routes name a permission; roles grant them."""

from __future__ import annotations

import enum

from broadcast.accounts.models import Role
from broadcast.directory.models import OrganisationKind


class Permission(enum.StrEnum):
    organisations_read = "organisations:read"
    contacts_read = "contacts:read"
    contacts_write = "contacts:write"
    notices_read = "notices:read"
    notices_write = "notices:write"
    broadcasts_read = "broadcasts:read"
    broadcasts_send = "broadcasts:send"
    deliveries_read = "deliveries:read"
    audit_read = "audit:read"
    broadcasts_approve = "broadcasts:approve"
    broadcasts_override = "broadcasts:override"
    integrations_read = "integrations:read"
    integrations_manage = "integrations:manage"
    webhooks_manage = "webhooks:manage"
    audiences_read = "audiences:read"
    audiences_write = "audiences:write"
    contacts_export = "contacts:export"
    contacts_erase = "contacts:erase"
    contacts_import = "contacts:import"
    reports_gather = "reports:gather"
    operators_manage = "operators:manage"


READ = frozenset(
    {
        Permission.organisations_read,
        Permission.contacts_read,
        Permission.notices_read,
        Permission.broadcasts_read,
        Permission.deliveries_read,
        Permission.integrations_read,
        Permission.audiences_read,
    }
)
WRITE = frozenset(
    {
        Permission.contacts_write,
        Permission.contacts_import,  # whoever writes contacts imports them, in his scope
        Permission.notices_write,
        Permission.broadcasts_send,
        Permission.audiences_write,  # saved audiences: whoever sends saves them
    }
)
# The audit log, read within one's own scope: a head teacher reads his school's; not a viewer.
AUDIT = frozenset({Permission.audit_read})
# Second-person approval (RULES A6), within one's scope: a head teacher approves his school's
# broadcasts only, never one above it. The emergency override is the platform admin's alone.
APPROVE = frozenset({Permission.broadcasts_approve})
OVERRIDE = frozenset({Permission.broadcasts_override})
# Monitoring sources that open draft notices: set up by the académie, seen by everyone in scope.
INTEGRATIONS = frozenset({Permission.integrations_manage})
# Outbound webhook subscribers: set up by the académie or the DSI, not by a school.
WEBHOOKS = frozenset({Permission.webhooks_manage})
# Personal data (RULES R3, A7): a head teacher answers his families' access requests and exports
# his school's contacts; erasure, irreversible, is the académie's (its DPO) and the DSI's.
EXPORT = frozenset({Permission.contacts_export})
ERASE = frozenset({Permission.contacts_erase})
RGPD = EXPORT | ERASE
# Schools report a service down; the académie (or a département) gathers the reports of many
# schools into one incident.
GATHER = frozenset({Permission.reports_gather})
# Operators' accounts (invite, role, disable, second factor), within one's scope and never
# above one's own role: the académie's officers and the platform admins, not a school.
OPERATORS = frozenset({Permission.operators_manage})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.platform_admin: READ
    | WRITE
    | AUDIT
    | APPROVE
    | OVERRIDE
    | INTEGRATIONS
    | WEBHOOKS
    | RGPD
    | GATHER
    | OPERATORS,
    Role.academie_officer: READ
    | WRITE
    | AUDIT
    | APPROVE
    | INTEGRATIONS
    | WEBHOOKS
    | RGPD
    | GATHER
    | OPERATORS,
    Role.head_teacher: READ | WRITE | AUDIT | APPROVE | EXPORT,
    Role.viewer: READ,
}

# Where in the hierarchy each role may be anchored.
ROLE_SCOPE_KINDS: dict[Role, frozenset[OrganisationKind]] = {
    Role.platform_admin: frozenset(OrganisationKind),
    Role.academie_officer: frozenset(
        {
            OrganisationKind.region_academique,
            OrganisationKind.academie,
            OrganisationKind.departement,
        }
    ),
    Role.head_teacher: frozenset({OrganisationKind.etablissement}),
    Role.viewer: frozenset(OrganisationKind),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]
