"""Natoma's three roles and the role mapping, in the guide's words: display name and the case-sensitive value."""
from __future__ import annotations

import uuid

# (display name, value): the value is what Natoma receives; keep the mixed case exactly.
NATOMA_ROLES: tuple[tuple[str, str], ...] = (("Admin", "admin"), ("AppAdmin", "AppAdmin"), ("Member", "member"))
ROLE_VALUES: tuple[str, ...] = tuple(v for _, v in NATOMA_ROLES)
DISPLAY_NAME = dict((v, d) for d, v in NATOMA_ROLES)

# The id natoma-entra gives a Natoma role on an app: derived from the appId and the value, so two runs at the same time
# create the same role, not two, and teardown knows the roles it made (docs/teardown.md).
ROLE_NAMESPACE = uuid.UUID("0b4f8d3e-7a52-4f0e-9d1c-6e61746f6d61")


def role_id(app_id: str, value: str) -> str:
    return str(uuid.uuid5(ROLE_NAMESPACE, f"{app_id.lower()}/{value}"))


# The attribute mapping of step 3 (the guide's step 3; Entra docs customize-application-attributes.md).
SINGLE_ROLE_EXPRESSION = "SingleAppRoleAssignment([appRoleAssignments])"
SINGLE_ROLE_TARGET = 'roles[primary eq "True"].value'
MULTI_ROLE_EXPRESSION = "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])"
MULTI_ROLE_TARGET = "roles"
