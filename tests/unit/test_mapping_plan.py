"""steps/mapping.plan: pure, lossless, and right about the role mapping (synchronization-synchronizationschema-update.md; docs/dev/design-notes.md)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from natoma_entra.natoma_roles import MULTI_ROLE_TARGET, SINGLE_ROLE_TARGET
from natoma_entra.sandbox.schema_template import default_schema
from natoma_entra.steps.mapping import (
    SchemaError, attribute_definition, expression_of, role_mapping, role_source,
)
from natoma_entra.steps.mapping import schema_change as plan  # the pure schema planner

# Copies of Microsoft documentation examples (tests/fixtures/graph-examples), so these tests never skip.
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "graph-examples"
SINGLE = role_mapping("SingleAppRoleAssignment", SINGLE_ROLE_TARGET)
MULTI = role_mapping("AssertiveAppRoleAssignmentsComplex", MULTI_ROLE_TARGET)


def same(a, b) -> bool:
    """The same JSON value, key order included (a PUT body must not reorder what it read)."""
    return json.dumps(a) == json.dumps(b)


def user_mappings(schema: dict, rule: int = 0, om: int = 0) -> list[dict]:
    return schema["synchronizationRules"][rule]["objectMappings"][om]["attributeMappings"]


def target_attrs(schema: dict, directory: str = "customappsso", obj: str = "User") -> list[dict]:
    d = next(d for d in schema["directories"] if d["name"] == directory)
    return next(o for o in d["objects"] if o["name"] == obj)["attributes"]


def planned(schema: dict, multi_role: bool = False):
    before = copy.deepcopy(schema)
    p = plan(schema, multi_role=multi_role)
    assert same(schema, before), "plan() must not mutate its input"
    return p


def actions(p) -> list[tuple[str, str]]:
    return [(c.action, c.target) for c in p.changes]


# -- the sandbox's scim template schema --------------------------------------------------------------------------------

def test_adds_the_single_role_mapping_and_nothing_else():
    schema = default_schema()
    schema["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('x')/synchronization/jobs('y')/schema/$entity"
    p = planned(schema)
    expected = copy.deepcopy(schema)
    del expected["@odata.context"]
    user_mappings(expected).append(SINGLE)
    assert same(p.new_schema, expected)
    assert p.rule_id == "03f7d90d-bf71-41b1-bda6-aaf0ddbee5d8"
    assert [c.action for c in p.changes] == ["create"]
    assert p.changes[0].detail["path"] == "synchronizationRules[0].objectMappings[0].attributeMappings[22]"
    assert p.warnings == []


def test_the_mapping_has_the_documented_shape():
    example = json.loads((EXAMPLES / "objectmapping-salesforce-with-SingleAppRoleAssignment.json").read_text())
    documented = next(m for m in example["attributeMappings"]
                      if (m.get("source") or {}).get("name") == "SingleAppRoleAssignment")
    assert SINGLE["source"] == documented["source"]
    assert SINGLE["flowType"] == "Always" and SINGLE["matchingPriority"] == 0
    assert SINGLE["targetAttributeName"] == 'roles[primary eq "True"].value'
    assert set(SINGLE) == set(documented)


def test_a_second_plan_changes_nothing():
    first = planned(default_schema())
    again = planned(first.new_schema)
    assert again.new_schema is None
    assert [c.action for c in again.changes] == ["none"]


def test_only_odata_annotations_differ_means_nothing_to_write():
    schema = planned(default_schema()).new_schema
    schema["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#x"
    assert planned(schema).new_schema is None


def test_unknown_properties_and_annotations_survive_and_the_answers_own_do_not():
    """Issue 23: a later Graph adds properties and annotations (docs/graph-assumptions.md, section l): every one on
    the schema's objects goes back in the PUT; the answer's own top-level annotations do not."""
    schema = default_schema()
    schema["@microsoft.graph.tips"] = "Use $select to choose only the properties your app needs."
    schema["futureTopLevel"] = {"addedLater": True}
    rule = schema["synchronizationRules"][0]
    rule["objectMappings"][0]["futureProperty"] = [1, 2]
    rule["objectMappings"][0]["futureProperty@odata.type"] = "#microsoft.graph.futureType"
    user_mappings(schema)[0]["@odata.type"] = "#microsoft.graph.attributeMapping"
    target_attrs(schema)[0]["futureProperty"] = None
    body = planned(schema).new_schema
    expected = copy.deepcopy(schema)
    del expected["@microsoft.graph.tips"]
    user_mappings(expected).append(SINGLE)
    assert same(body, expected)


def test_an_existing_mapping_written_as_expression_only_counts():
    schema = default_schema()
    user_mappings(schema).append({"source": {"expression": "SingleAppRoleAssignment( [appRoleAssignments] )",
                                             "type": "Function"},
                                  "targetAttributeName": SINGLE_ROLE_TARGET})
    assert planned(schema).new_schema is None


def test_replaces_another_expression_in_place_and_reports_it():
    schema = default_schema()
    old = {"defaultValue": None, "exportMissingReferences": False, "flowBehavior": "FlowWhenChanged",
           "flowType": "Always", "matchingPriority": 0,
           "source": {"expression": "[department]", "name": "department", "parameters": [], "type": "Attribute"},
           "targetAttributeName": SINGLE_ROLE_TARGET, "futureField": {"kept": [1, "two", None]}}
    user_mappings(schema).insert(5, old)
    p = planned(schema)
    expected = copy.deepcopy(schema)
    user_mappings(expected)[5] = {**old, **SINGLE}
    assert same(p.new_schema, expected)
    assert user_mappings(p.new_schema)[5]["futureField"] == {"kept": [1, "two", None]}
    (change,) = p.changes
    assert change.action == "update"
    assert change.detail["oldExpression"] == "[department]"
    assert change.detail["old"] == old
    assert "[department]" in change.detail["why"]
    assert any(line.lstrip().startswith('-') and "[department]" in line for line in change.detail["diff"])


def test_a_constant_default_to_the_target_is_replaced():
    schema = default_schema()
    user_mappings(schema).append({"defaultValue": "member", "flowType": "Always", "matchingPriority": 0,
                                  "source": None, "targetAttributeName": SINGLE_ROLE_TARGET})
    p = planned(schema)
    assert p.changes[0].action == "update" and "'member'" in p.changes[0].detail["why"]
    assert user_mappings(p.new_schema)[-1]["source"] == role_source("SingleAppRoleAssignment")
    assert user_mappings(p.new_schema)[-1]["defaultValue"] is None


def test_flow_type_add_only_is_set_back_to_always():
    schema = default_schema()
    user_mappings(schema).append({**SINGLE, "flowType": "ObjectAddOnly", "defaultValue": "member"})
    p = planned(schema)
    (change,) = p.changes
    assert change.action == "update" and "flowType" in change.detail["why"]
    assert user_mappings(p.new_schema)[-1] == {**SINGLE, "defaultValue": "member"}


def test_a_second_mapping_to_the_target_is_removed():
    schema = default_schema()
    user_mappings(schema).append(SINGLE)
    user_mappings(schema).append({**SINGLE, "source": {"expression": "[jobTitle]", "name": "jobTitle",
                                                       "parameters": [], "type": "Attribute"}})
    p = planned(schema)
    assert [c.action for c in p.changes] == ["delete", "none"]
    assert user_mappings(p.new_schema)[-1] == SINGLE and len(user_mappings(p.new_schema)) == 23


def test_adds_the_missing_target_attribute_definition_in_the_same_body():
    schema = default_schema()
    attrs = target_attrs(schema)
    attrs[:] = [a for a in attrs if a["name"] != SINGLE_ROLE_TARGET]
    p = planned(schema)
    expected = copy.deepcopy(schema)
    target_attrs(expected).append(attribute_definition(SINGLE_ROLE_TARGET, multivalued=False))
    user_mappings(expected).append(SINGLE)
    assert same(p.new_schema, expected)
    assert [c.action for c in p.changes] == ["create", "create"]
    assert p.changes[0].detail["path"].startswith("directories[1].objects[0].attributes[")


def test_multi_role_switch_and_back():
    single = planned(default_schema()).new_schema
    assert MULTI_ROLE_TARGET not in {a["name"] for a in target_attrs(single)}
    p = planned(single, multi_role=True)
    expected = copy.deepcopy(single)
    target_attrs(expected).append(attribute_definition("roles", multivalued=True))
    user_mappings(expected).pop()  # the single-role mapping
    user_mappings(expected).append(MULTI)
    assert same(p.new_schema, expected)
    assert [c.action for c in p.changes] == ["create", "delete", "create"]
    assert p.changes[1].detail["oldExpression"] == "SingleAppRoleAssignment([appRoleAssignments])"
    assert p.mode == "multi-role"
    assert target_attrs(p.new_schema)[-1]["multivalued"] is True
    assert planned(p.new_schema, multi_role=True).new_schema is None

    back = planned(p.new_schema, multi_role=False)
    expected = copy.deepcopy(p.new_schema)
    user_mappings(expected).pop()
    user_mappings(expected).append(SINGLE)
    assert same(back.new_schema, expected)  # the roles definition stays: harmless, and not ours to drop
    assert [c.action for c in back.changes] == ["delete", "create"]
    assert planned(back.new_schema).new_schema is None


def test_multi_role_replaces_the_non_assertive_complex_mapping():
    schema = default_schema()
    target_attrs(schema).append(attribute_definition("roles", multivalued=True))
    user_mappings(schema).append(role_mapping("AppRoleAssignmentsComplex", "roles"))
    p = planned(schema, multi_role=True)
    assert [c.action for c in p.changes] == ["update"]
    assert p.changes[0].detail["oldExpression"] == "AppRoleAssignmentsComplex([appRoleAssignments])"
    assert user_mappings(p.new_schema)[-1] == MULTI


def test_single_role_keeps_a_roles_mapping_that_is_not_a_role_function_but_warns():
    schema = default_schema()
    target_attrs(schema).append(attribute_definition("roles", multivalued=True))
    other = {**SINGLE, "source": {"expression": "[jobTitle]", "name": "jobTitle", "parameters": [], "type": "Attribute"},
             "targetAttributeName": "roles"}
    user_mappings(schema).append(other)
    p = planned(schema)
    assert other in user_mappings(p.new_schema)
    assert any("'roles'" in w for w in p.warnings)


def test_found_by_source_object_not_by_name_and_target_directory_from_the_rule():
    schema = default_schema()
    rule = schema["synchronizationRules"][0]
    rule["objectMappings"].reverse()  # groups first
    rule["objectMappings"][1]["name"] = "Provision Azure Active Directory Users"  # an older tenant's name
    rule["targetDirectoryName"] = "natomaScim"
    next(d for d in schema["directories"] if d["name"] == "customappsso")["name"] = "natomaScim"
    p = planned(schema)
    assert p.changes[0].detail["path"] == "synchronizationRules[0].objectMappings[1].attributeMappings[22]"
    assert user_mappings(p.new_schema, om=1)[-1] == SINGLE
    assert user_mappings(p.new_schema, om=0) == user_mappings(schema, om=0)


def test_no_user_mapping_is_an_error_with_a_fix():
    schema = default_schema()
    rule = schema["synchronizationRules"][0]
    rule["objectMappings"] = [m for m in rule["objectMappings"] if m["sourceObjectName"] != "User"]
    with pytest.raises(SchemaError) as e:
        plan(schema)
    assert "sourceObjectName" in e.value.message and e.value.fix


def test_missing_target_directory_is_an_error():
    schema = default_schema()
    schema["synchronizationRules"][0]["targetDirectoryName"] = "nowhere"
    with pytest.raises(SchemaError, match="nowhere"):
        plan(schema)


def test_expression_of_builds_text_from_structure():
    assert expression_of({"type": "Function", "name": "Not",
                          "parameters": [{"key": "source", "value": {"type": "Attribute", "name": "IsSoftDeleted"}}]}) \
        == "Not([IsSoftDeleted])"
    assert expression_of(None) is None


# -- the Microsoft documentation examples (tests/fixtures/graph-examples) ---------------------------------------------------

def _attr(name: str) -> dict:
    return attribute_definition(name, multivalued=False)


def salesforce_schema() -> dict:
    """A schema around the Graph docs' objectMapping example (a real Salesforce user mapping, verbatim)."""
    om = json.loads((EXAMPLES / "objectmapping-salesforce-with-SingleAppRoleAssignment.json").read_text())
    targets = [m["targetAttributeName"] for m in om["attributeMappings"]]
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals('1')/synchronization/jobs('SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa')/schema/$entity",
        "directories": [
            {"id": "66e4a8cc-1b7b-435e-95f8-f06cea133828", "name": "Azure Active Directory", "objects": [
                {"name": "User", "attributes": [_attr(n) for n in ("IsSoftDeleted", "userPrincipalName", "mail")],
                 "metadata": [], "supportedApis": []}], "readOnly": True, "version": "0.0.0",
             "discoveryDateTime": None, "discoverabilities": "None", "metadata": []},
            {"id": "8ffa6169-f354-4751-9b77-9c00765be92d", "name": "salesforce.com", "objects": [
                {"name": "User", "attributes": [_attr(n) for n in targets], "metadata": [], "supportedApis": []}],
             "readOnly": False, "version": "2020-05-01", "discoveryDateTime": "2020-05-01T00:00:00Z",
             "discoverabilities": "AttributeNames, AttributeDataTypes", "metadata": [{"key": "X", "value": None}]},
        ],
        "synchronizationRules": [
            {"id": "SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa", "name": "USER_OUTBOUND_USER",
             "editable": True, "priority": 1, "sourceDirectoryName": "Azure Active Directory",
             "targetDirectoryName": "salesforce.com", "containerFilter": {"includedContainers": []},
             "groupFilter": {"includedGroups": []}, "metadata": [{"key": "supportsProvisionOnDemand", "value": "true"}],
             "objectMappings": [om]},
        ],
        "version": "Date:2020-05-01",
    }


def test_salesforce_docs_example_is_kept_verbatim():
    schema = salesforce_schema()
    p = planned(schema)
    expected = copy.deepcopy(schema)
    del expected["@odata.context"]
    target_attrs(expected, "salesforce.com").append(_attr(SINGLE_ROLE_TARGET))
    user_mappings(expected).append(SINGLE)
    assert same(p.new_schema, expected)
    assert p.rule_id == "SfSandboxOutDelta.e4bbf44533ea4eabb17027f3a92e92aa"
    # the example's own SingleAppRoleAssignment -> ProfileName is left alone, with a word about it
    assert user_mappings(p.new_schema)[8]["targetAttributeName"] == "ProfileName"
    assert any("ProfileName" in w for w in p.warnings)


def test_cato_fragments_and_unknown_fields_round_trip():
    frag = json.loads((EXAMPLES / "schema-attributeDefinition-and-mapping-fragments-cato.json").read_text())
    schema = default_schema()
    schema["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#x"
    schema["someFutureProperty"] = {"nested": [1, "mixed", None, {"a": None}], "when": "2024-01-02T03:04:05.0000000Z"}
    next(d for d in schema["directories"] if d["name"] == "Azure Active Directory")["objects"][0]["attributes"] += \
        frag["sourceDirectoryAttributesToAppend"]
    target_attrs(schema).extend(frag["targetDirectoryAttributesToAppend"])
    user_mappings(schema).extend(frag["attributeMappingsToAppend"])
    user_mappings(schema)[0]["unknownMappingField"] = None
    p = planned(schema)
    expected = copy.deepcopy(schema)
    del expected["@odata.context"]
    user_mappings(expected).append(SINGLE)
    assert same(p.new_schema, expected)
    assert user_mappings(p.new_schema)[-2]["defaultValue"] == ""  # Cato's "" default stays "", not null


def test_diff_lines_name_the_path():
    p = planned(default_schema())
    diff = p.changes[0].detail["diff"]
    assert diff[0].startswith("+ synchronizationRules[0].objectMappings[0].attributeMappings[22]")
    assert any("SingleAppRoleAssignment([appRoleAssignments])" in line for line in diff)
