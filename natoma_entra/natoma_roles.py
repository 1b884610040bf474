"""Natoma's three roles and the role mapping, in the guide's words: display name and the case-sensitive value."""
from __future__ import annotations

# (display name, value): the value is what Natoma receives; keep the mixed case exactly.
NATOMA_ROLES: tuple[tuple[str, str], ...] = (("Admin", "admin"), ("AppAdmin", "AppAdmin"), ("Member", "member"))
ROLE_VALUES: tuple[str, ...] = tuple(v for _, v in NATOMA_ROLES)
DISPLAY_NAME = dict((v, d) for d, v in NATOMA_ROLES)

# The attribute mapping of step 3 (guide step 3; graph-api.md section 5).
SINGLE_ROLE_EXPRESSION = "SingleAppRoleAssignment([appRoleAssignments])"
SINGLE_ROLE_TARGET = 'roles[primary eq "True"].value'
MULTI_ROLE_EXPRESSION = "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])"
MULTI_ROLE_TARGET = "roles"
