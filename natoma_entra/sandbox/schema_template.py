"""The "scim" synchronization template of a non-gallery app, and its default job schema.

NOT A VERBATIM COPY. No public dump of the complete `scim` template schema exists (docs/graph-assumptions.md), so
``data/scim-template-schema.json`` is constructed from the Graph resource pages (synchronizationTemplate,
synchronizationSchema, directoryDefinition, objectDefinition, attributeDefinition, synchronizationRule, objectMapping,
attributeMapping), the objectMapping JSON example (metadata keys, source shapes), the Entra attribute-mapping docs
(default SCIM target attributes, incl. the three ``roles[primary eq "True"].*`` attributes; plain ``roles`` is NOT in
the default list and must be added for AppRoleAssignmentsComplex) and portal defaults (externalId <- mailNickname,
active <- Switch([IsSoftDeleted], ...), userName <- userPrincipalName as matching attribute).

It deliberately carries fields the CLI does not model (metadata lists, ``discoverabilities`` flag strings,
``apiExpressions``, ``referencedObjects``, explicit nulls, group filters), so a client that drops unknown fields on
its GET-modify-PUT round trip is caught by comparing before and after.

The default schema has no role mapping: adding ``SingleAppRoleAssignment([appRoleAssignments])`` ->
``roles[primary eq "True"].value`` is the CLI's step 3.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

TEMPLATE_ID = "scim"
FACTORY_TAG = "CustomSCIM"
SOURCE_DIRECTORY = "Azure Active Directory"
TARGET_DIRECTORY = "customappsso"
USER_RULE_ID = "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"


@lru_cache(maxsize=1)
def _load() -> str:
    return (resources.files("natoma_entra.sandbox") / "data" / "scim-template-schema.json").read_text("utf-8")


def template(application_id: str | None = None) -> dict:
    """The synchronizationTemplate JSON (as in GET .../synchronization/templates), a fresh deep copy.

    ``application_id`` fills ``applicationId`` (the app's appId); None leaves it null.
    """
    doc = json.loads(_load())
    if application_id is not None:
        doc["applicationId"] = application_id
    return doc


def default_schema() -> dict:
    """The template's synchronizationSchema (what a new job starts with), parsed afresh (the caller owns it)."""
    return template()["schema"]
