"""The "scim" synchronization template and its default schema."""

from natoma_entra.sandbox import schema_template as st

ROLE_VALUE = 'roles[primary eq "True"].value'


def _directory(schema, name):
    [d] = [d for d in schema["directories"] if d["name"] == name]
    return d


def _object(directory, name):
    [o] = [o for o in directory["objects"] if o["name"] == name]
    return o


def _user_mapping(schema):
    [rule] = schema["synchronizationRules"]
    [mapping] = [m for m in rule["objectMappings"] if m["sourceObjectName"] == "User"]
    return rule, mapping


def test_template_envelope():
    t = st.template("0a1b2c3d-0000-0000-0000-000000000001")
    assert t["id"] == "scim"
    assert t["factoryTag"] == "CustomSCIM"
    assert t["default"] is True and t["discoverable"] is True
    assert t["applicationId"] == "0a1b2c3d-0000-0000-0000-000000000001"
    assert isinstance(t["metadata"], list) and t["metadata"]
    assert st.template()["applicationId"] is None


def test_fresh_copies():
    a = st.default_schema()
    a["directories"].clear()
    assert st.default_schema()["directories"]
    t = st.template()
    t["schema"]["synchronizationRules"].clear()
    assert st.template()["schema"]["synchronizationRules"]
    assert st.default_schema() == st.template()["schema"]


def test_target_has_roles_value_but_not_plain_roles():
    schema = st.default_schema()
    target = _directory(schema, "customappsso")
    names = {a["name"] for a in _object(target, "User")["attributes"]}
    assert ROLE_VALUE in names
    assert 'roles[primary eq "True"].display' in names
    assert 'roles[primary eq "True"].type' in names
    assert "roles" not in names
    assert {"userName", "active", "externalId", 'emails[type eq "work"].value', "name.givenName"} <= names
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department" in names
    assert {a["name"] for a in _object(target, "Group")["attributes"]} >= {"displayName", "externalId", "members"}


def test_source_directory():
    schema = st.default_schema()
    source = _directory(schema, "Azure Active Directory")
    names = {a["name"] for a in _object(source, "User")["attributes"]}
    assert {"appRoleAssignments", "userPrincipalName", "objectId", "IsSoftDeleted", "mail", "jobTitle"} <= names
    [anchor] = [a for a in _object(source, "User")["attributes"] if a["anchor"]]
    assert anchor["name"] == "objectId"


def test_rule_and_user_mapping():
    rule, mapping = _user_mapping(st.default_schema())
    assert rule["id"] == st.USER_RULE_ID
    assert rule["name"] == "USER_OUTBOUND_USER"
    assert rule["sourceDirectoryName"] == "Azure Active Directory"
    assert rule["targetDirectoryName"] == "customappsso"
    assert {"key": "supportsProvisionOnDemand", "value": "true"} in rule["metadata"]
    assert mapping["name"] == "Provision Microsoft Entra ID Users"
    assert mapping["flowTypes"] == "Add, Update, Delete"
    assert mapping["scope"] is None
    by_target = {m["targetAttributeName"]: m for m in mapping["attributeMappings"]}
    assert by_target["userName"]["source"]["name"] == "userPrincipalName"
    assert by_target["userName"]["matchingPriority"] == 1
    assert by_target["active"]["source"]["name"] == "Switch"
    assert by_target["title"]["source"]["name"] == "jobTitle"
    assert by_target['emails[type eq "work"].value']["source"]["name"] == "mail"
    # the role mapping is the CLI's job (step 3), not a default
    assert ROLE_VALUE not in by_target
    assert not any("AppRoleAssignment" in (m["source"] or {}).get("expression", "") for m in mapping["attributeMappings"])
    [groups] = [m for m in rule["objectMappings"] if m["sourceObjectName"] == "Group"]
    assert groups["name"] == "Provision Microsoft Entra ID Groups"


def test_every_mapping_target_is_defined():
    schema = st.default_schema()
    rule, _ = _user_mapping(schema)
    target = _directory(schema, rule["targetDirectoryName"])
    source = _directory(schema, rule["sourceDirectoryName"])
    for om in rule["objectMappings"]:
        tnames = {a["name"] for a in _object(target, om["targetObjectName"])["attributes"]}
        snames = {a["name"] for a in _object(source, om["sourceObjectName"])["attributes"]}
        for am in om["attributeMappings"]:
            assert am["targetAttributeName"] in tnames

            def attrs(src):
                if src is None:
                    return
                if src["type"] == "Attribute":
                    yield src["name"]
                for p in src["parameters"]:
                    yield from attrs(p["value"])

            assert set(attrs(am["source"])) <= snames


def test_carries_fields_a_lossy_client_would_drop():
    schema = st.default_schema()
    target = _directory(schema, "customappsso")
    assert target["discoverabilities"] == "AttributeNames, AttributeDataTypes"
    assert "discoveryDateTime" in target and target["discoveryDateTime"] is None
    user_attrs = _object(target, "User")["attributes"]
    assert any(a["apiExpressions"] for a in user_attrs)
    assert all("defaultValue" in a and a["defaultValue"] is None for a in user_attrs)
    _, mapping = _user_mapping(schema)
    assert mapping["metadata"] and all("exportMissingReferences" in m for m in mapping["attributeMappings"])
