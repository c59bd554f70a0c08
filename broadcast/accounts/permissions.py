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


READ = frozenset(
    {
        Permission.organisations_read,
        Permission.contacts_read,
        Permission.notices_read,
        Permission.broadcasts_read,
        Permission.deliveries_read,
    }
)
WRITE = frozenset({Permission.contacts_write, Permission.notices_write, Permission.broadcasts_send})
# The audit log, read within one's own scope: a head teacher reads his school's; not a viewer.
AUDIT = frozenset({Permission.audit_read})

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.platform_admin: READ | WRITE | AUDIT,
    Role.academie_officer: READ | WRITE | AUDIT,
    Role.head_teacher: READ | WRITE | AUDIT,
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
