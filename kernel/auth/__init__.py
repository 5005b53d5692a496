"""Access control every route declares: public, signed in, or a permission in an organization.

Authentication itself is a hook (``ticketing_authenticate``) answered by the identity
plugin; the kernel only asks it and applies the rule the route declared.
"""

from kernel.auth.permissions import PermissionRegistry, UnknownPermission
from kernel.auth.rules import (
    AccessRule,
    Authenticated,
    OrganizationPermission,
    PlatformAdministrator,
    PlatformPermission,
    Public,
    PublicOrSignedIn,
    authenticate,
    declared_rules,
    describe_access,
    platform_admin,
    public,
    public_or_signed_in,
    requires,
    signed_in,
)

__all__ = [
    "AccessRule",
    "Authenticated",
    "OrganizationPermission",
    "PermissionRegistry",
    "PlatformAdministrator",
    "PlatformPermission",
    "Public",
    "PublicOrSignedIn",
    "UnknownPermission",
    "authenticate",
    "declared_rules",
    "describe_access",
    "platform_admin",
    "public",
    "public_or_signed_in",
    "requires",
    "signed_in",
]
