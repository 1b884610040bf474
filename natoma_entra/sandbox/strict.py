"""Where Graph refuses a query, the sandbox refuses it too: $select of a property the type does not have, advanced
queries on directory objects without ``ConsistencyLevel: eventual``, provisioning-log filters outside the documented
properties and operators.

Sources (Microsoft Graph docs):
- "Advanced query capabilities on Microsoft Entra ID objects" (/graph/aad-advanced-queries): ``ne``, ``not``,
  ``endsWith``, ``$count``, ``$search`` and ``$filter`` together with ``$orderby`` work only with the header
  ``ConsistencyLevel: eventual`` and (except ``$search``) ``$count=true``; otherwise 400 Request_UnsupportedQuery.
- "provisioningObjectSummary resource type" (/graph/api/resources/provisioningobjectsummary) and "List
  provisioningObjectSummary" (/graph/api/provisioningobjectsummary-list): ``$filter`` with eq, contains, gt, lt on the
  properties the resource page marks as filterable.
- The v1.0 resource pages of application, servicePrincipal, user, group, appRoleAssignment for the property names
  ($select of an unknown one answers 400 "Could not find a property named ... on type ...", OData's parser error).
"""
from __future__ import annotations

from natoma_entra.sandbox.odata_filter import ODataError, tokenize
from natoma_entra.sandbox.state import GraphFault

_DIRECTORY_OBJECT = {"id", "deletedDateTime"}

# v1.0 properties per type (the resource pages' property tables; relationships are not $select-able here)
PROPERTIES: dict[str, set[str]] = {
    "application": _DIRECTORY_OBJECT | {
        "addIns", "api", "appId", "appRoles", "applicationTemplateId", "authenticationBehaviors", "certification",
        "createdDateTime", "defaultRedirectUri", "description", "disabledByMicrosoftStatus", "displayName",
        "groupMembershipClaims", "identifierUris", "info", "isDeviceOnlyAuthSupported", "isFallbackPublicClient",
        "keyCredentials", "logo", "nativeAuthenticationApisEnabled", "notes", "oauth2RequirePostResponse",
        "optionalClaims", "parentalControlSettings", "passwordCredentials", "publicClient", "publisherDomain",
        "requestSignatureVerification", "requiredResourceAccess", "samlMetadataUrl", "serviceManagementReference",
        "servicePrincipalLockConfiguration", "signInAudience", "spa", "tags", "tokenEncryptionKeyId",
        "uniqueName", "verifiedPublisher", "web"},
    "servicePrincipal": _DIRECTORY_OBJECT | {
        "accountEnabled", "addIns", "alternativeNames", "appDescription", "appDisplayName", "appId",
        "applicationTemplateId", "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles",
        "customSecurityAttributes", "description", "disabledByMicrosoftStatus", "displayName", "homepage", "info",
        "keyCredentials", "loginUrl", "logoutUrl", "notes", "notificationEmailAddresses",
        "oauth2PermissionScopes", "passwordCredentials", "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint",
        "replyUrls", "resourceSpecificApplicationPermissions", "samlSingleSignOnSettings", "servicePrincipalNames",
        "servicePrincipalType", "signInAudience", "tags", "tokenEncryptionKeyId", "verifiedPublisher"},
    "user": _DIRECTORY_OBJECT | {
        "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "authorizationInfo", "birthday",
        "businessPhones", "city", "companyName", "consentProvidedForMinor", "country", "createdDateTime",
        "creationType", "customSecurityAttributes", "department", "displayName", "employeeHireDate",
        "employeeLeaveDateTime", "employeeId", "employeeOrgData", "employeeType", "externalUserState",
        "externalUserStateChangeDateTime", "faxNumber", "givenName", "hireDate", "identities", "imAddresses",
        "interests", "isManagementRestricted", "isResourceAccount", "jobTitle", "lastPasswordChangeDateTime",
        "legalAgeGroupClassification", "licenseAssignmentStates", "mail", "mailboxSettings", "mailNickname",
        "mobilePhone", "mySite", "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
        "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
        "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
        "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile",
        "pastProjects", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName", "provisionedPlans",
        "proxyAddresses", "responsibilities", "schools", "securityIdentifier", "serviceProvisioningErrors",
        "showInAddressList", "signInActivity", "signInSessionsValidFromDateTime", "skills", "state", "streetAddress",
        "surname", "usageLocation", "userPrincipalName", "userType"},
    "group": _DIRECTORY_OBJECT | {
        "allowExternalSenders", "assignedLabels", "assignedLicenses", "autoSubscribeNewMembers", "classification",
        "createdDateTime", "description", "displayName", "expirationDateTime", "groupTypes", "hasMembersWithLicenseErrors",
        "hideFromAddressLists", "hideFromOutlookClients", "isArchived", "isAssignableToRole", "isManagementRestricted",
        "isSubscribedByMail", "licenseProcessingState", "mail", "mailEnabled", "mailNickname", "membershipRule",
        "membershipRuleProcessingState", "onPremisesDomainName", "onPremisesLastSyncDateTime",
        "onPremisesNetBiosName", "onPremisesProvisioningErrors", "onPremisesSamAccountName",
        "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage",
        "proxyAddresses", "renewedDateTime", "securityEnabled", "securityIdentifier", "serviceProvisioningErrors",
        "theme", "uniqueName", "unseenCount", "visibility"},
    "appRoleAssignment": _DIRECTORY_OBJECT | {
        "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType",
        "resourceDisplayName", "resourceId"},
}
# a directoryObject collection (members, memberOf, ...) holds users, groups and service principals: Graph returns the
# derived types' properties for the objects that have them
PROPERTIES["directoryObject"] = PROPERTIES["user"] | PROPERTIES["group"] | PROPERTIES["servicePrincipal"]

_TYPE_OF_SEGMENT = {"applications": "application", "servicePrincipals": "servicePrincipal", "users": "user",
                    "groups": "group", "directoryObjects": "directoryObject", "appRoleAssignedTo": "appRoleAssignment",
                    "appRoleAssignments": "appRoleAssignment"}


def type_of_context(context: str) -> str | None:
    """The entity type a response context ("users", "servicePrincipals('x')/appRoleAssignedTo/$entity") holds."""
    segs = [s.split("(")[0] for s in context.split("/") if s and s != "$entity"]
    return _TYPE_OF_SEGMENT.get(segs[-1]) if segs else None


def check_select(select: str | None, context: str) -> None:
    if not select:
        return
    type_name = type_of_context(context)
    if type_name is None:
        return  # types the sandbox does not model property by property
    known = {p.lower() for p in PROPERTIES[type_name]}
    for name in (s.strip() for s in select.split(",")):
        if name and name.lower() not in known:
            raise GraphFault(400, "Request_BadRequest",
                             f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.")


# -- advanced queries on directory objects ----------------------------------------------------------------------------

DIRECTORY_ROOTS = {"applications", "serviceprincipals", "users", "groups", "directoryobjects"}
_ADVANCED_OPERATORS = {"ne": "ne", "not": "not", "endswith": "endsWith"}


def _words(text: str) -> list[str]:
    try:
        return [t.text.lower() for t in tokenize(text) if t.kind == "word"]
    except ODataError:
        return []  # a syntax error is reported by the filter itself


def _unsupported(message: str) -> GraphFault:
    return GraphFault(400, "Request_UnsupportedQuery", message)


def check_advanced(path: str, query: dict[str, str], headers: dict[str, str]) -> None:
    """400 Request_UnsupportedQuery for a directory-object query that needs the advanced query parameters."""
    segs = [s for s in path.split("/") if s]
    if not segs or segs[0].lower() not in DIRECTORY_ROOTS or "synchronization" in (s.lower() for s in segs):
        return
    eventual = headers.get("consistencylevel", "").strip().lower() == "eventual"
    count = query.get("$count", "").strip().lower() == "true"
    if "$search" in query and not eventual:
        # the doc's own example error for $search without the header
        raise _unsupported("Request with $search query parameter only works through MSGraph with a special request "
                           "header: 'ConsistencyLevel: eventual'")
    needs: list[str] = []
    flt = query.get("$filter")
    if flt:
        needs += [f"Operator '{_ADVANCED_OPERATORS[w]}'" for w in _words(flt) if w in _ADVANCED_OPERATORS]
    if "$count" in query:
        needs.append("$count")
    if "$orderby" in query and flt:
        needs.append("$orderby with $filter")
    if needs and not (eventual and count):
        # wording of the doc's endsWith example
        raise _unsupported(f"{needs[0]} is not supported because the required parameters might be missing. Try "
                           "adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to "
                           "https://aka.ms/graph-docs/advanced-queries for more information")


# -- provisioning logs ------------------------------------------------------------------------------------------------

_EQ_CONTAINS = {"eq", "contains"}
# property path -> operators, from the provisioningObjectSummary resource page ("Supports $filter (...)"); the
# provisioningStatusInfo/status entry is the beta page's ("Supports $filter (eq, contains) for status").
LOG_FILTERS: dict[str, set[str]] = {
    "activityDateTime": {"eq", "gt", "lt"},
    "changeId": _EQ_CONTAINS, "cycleId": _EQ_CONTAINS, "id": _EQ_CONTAINS, "jobId": _EQ_CONTAINS,
    "tenantId": _EQ_CONTAINS, "provisioningAction": _EQ_CONTAINS,
    "initiatedBy/id": _EQ_CONTAINS, "initiatedBy/displayName": _EQ_CONTAINS,
    "servicePrincipal/id": {"eq"}, "servicePrincipal/name": {"eq"},
    "sourceIdentity/identityType": _EQ_CONTAINS, "sourceIdentity/id": _EQ_CONTAINS,
    "sourceIdentity/displayName": _EQ_CONTAINS,
    "targetIdentity/identityType": _EQ_CONTAINS, "targetIdentity/id": _EQ_CONTAINS,
    "targetIdentity/displayName": _EQ_CONTAINS,
    "sourceSystem/displayName": _EQ_CONTAINS, "targetSystem/displayName": _EQ_CONTAINS,
    "provisioningStatusInfo/status": _EQ_CONTAINS,
}
_LOG_ORDERBY = {"activitydatetime", "activitydatetime desc", "activitydatetime asc"}
_CMP = {"eq", "ne", "gt", "ge", "lt", "le"}


def _log_refused(message: str) -> GraphFault:
    return GraphFault(400, "BadRequest", f"Invalid filter clause: {message}")


def check_log_query(query: dict[str, str]) -> None:
    """Only the documented operators (eq, contains, gt, lt) on the documented properties; $orderby activityDateTime."""
    orderby = query.get("$orderby")
    if orderby is not None and " ".join(orderby.split()).lower() not in _LOG_ORDERBY:
        raise GraphFault(400, "Request_UnsupportedQuery", f"Unsupported $orderby: '{orderby}'.")
    text = query.get("$filter")
    if not text:
        return
    try:
        toks = tokenize(text)
    except ODataError as e:
        raise _log_refused(str(e)) from None
    i = 0
    while i < len(toks):
        t = toks[i]
        low = t.text.lower() if t.kind == "word" else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if low in _CMP:
            prev = toks[i - 1] if i else None
            path = prev.text if prev is not None and prev.kind == "word" else None
            if path is None or path not in LOG_FILTERS:
                raise _log_refused(f"'{path or '?'} {low}': the property does not support $filter.")
            if low not in LOG_FILTERS[path]:
                raise _log_refused(f"'{path} {low}': the property supports only "
                                   f"{', '.join(sorted(LOG_FILTERS[path]))}.")
        elif low and nxt is not None and nxt.kind == "lp":
            if low == "contains":
                arg = toks[i + 2] if i + 2 < len(toks) else None
                if arg is not None and arg.text.lower() == "tolower":  # contains(tolower(path), 'x')
                    arg = toks[i + 4] if i + 4 < len(toks) else None
                path = arg.text if arg is not None and arg.kind == "word" else None
                if path not in LOG_FILTERS or "contains" not in LOG_FILTERS[path]:
                    raise _log_refused(f"contains({path or '?'}, ...): the property does not support contains.")
            elif low != "tolower":
                raise _log_refused(f"the function '{t.text}' is not supported; use eq, contains, gt or lt.")
        elif low in ("not", "in", "has", "any", "all"):
            raise _log_refused(f"the operator '{t.text}' is not supported; use eq, contains, gt or lt.")
        i += 1
