"""Expression evaluation of attribute-mapping sources."""

import pytest

from natoma_entra.sandbox.expressions import ComplexRoles, ExpressionError, Grant, attributes_used, evaluate

ADMIN = Grant("r-admin", "admin", "Admin")
MEMBER = Grant("r-member", "member", "Member")
MSIAM = Grant("b9632174-c057-4f7e-951b-be3adc52bfe6", None, "msiam_access")


def attr(name):
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def const(value):
    return {"expression": f'"{value}"', "name": value, "parameters": [], "type": "Constant"}


def fn(name, *params, keys=None):
    keys = keys or ["source"] * len(params)
    return {
        "expression": f"{name}(...)",
        "name": name,
        "parameters": [{"key": k, "value": p} for k, p in zip(keys, params)],
        "type": "Function",
    }


def single(grants):
    return evaluate(fn("SingleAppRoleAssignment", attr("appRoleAssignments")), {"appRoleAssignments": grants})


def test_attribute_and_constant():
    attrs = {"userPrincipalName": "a@contoso.com", "jobTitle": None}
    assert evaluate(attr("userPrincipalName"), attrs) == "a@contoso.com"
    assert evaluate(attr("USERPRINCIPALNAME"), attrs) == "a@contoso.com"  # case-insensitive names
    assert evaluate(attr("jobTitle"), attrs) is None
    assert evaluate(attr("missing"), attrs) is None
    assert evaluate(const("x y"), attrs) == "x y"
    assert evaluate(None, attrs) is None


@pytest.mark.parametrize("value", ["admin", "AppAdmin", "member"])
def test_single_app_role_assignment_one_role(value):
    assert single([Grant("r", value, value)]) == value


def test_single_app_role_assignment_same_role_twice_is_one():
    assert single([ADMIN, Grant("r-admin", "admin", "Admin")]) == "admin"


def test_single_app_role_assignment_two_roles_fails():
    with pytest.raises(ExpressionError) as err:
        single([ADMIN, MEMBER])
    assert err.value.code == "MultipleGrantsNotSupported"
    assert "admin" in err.value.message and "member" in err.value.message


def test_single_app_role_assignment_null_valued_role_gives_nothing():
    assert single([MSIAM]) is None
    assert single([]) is None
    assert single([MSIAM, MEMBER]) == "member"


@pytest.mark.parametrize("name,assertive", [("AppRoleAssignmentsComplex", False), ("AssertiveAppRoleAssignmentsComplex", True)])
def test_complex_roles(name, assertive):
    result = evaluate(fn(name, attr("appRoleAssignments")), {"appRoleAssignments": [MEMBER, ADMIN, MSIAM]})
    assert isinstance(result, ComplexRoles)
    assert result.assertive is assertive
    assert result.values() == ["admin", "member"]
    assert all(r["primary"] is False and r["type"] == "WindowsAzureActiveDirectoryRole" for r in result.roles)
    assert {r["display"] for r in result.roles} == {"Admin", "Member"}


def test_switch_is_soft_deleted_to_active():
    switch = {
        "expression": 'Switch([IsSoftDeleted], , "False", "True", "True", "False")',
        "name": "Switch",
        "parameters": [
            {"key": "source", "value": attr("IsSoftDeleted")},
            {"key": "defaultValue", "value": None},
            {"key": "key", "value": const("False")},
            {"key": "value", "value": const("True")},
            {"key": "key", "value": const("True")},
            {"key": "value", "value": const("False")},
        ],
        "type": "Function",
    }
    assert evaluate(switch, {"IsSoftDeleted": "False"}) == "True"
    assert evaluate(switch, {"IsSoftDeleted": "True"}) == "False"
    assert evaluate(switch, {"IsSoftDeleted": "maybe"}) is None


def test_not_join_case_coalesce_append_mid():
    attrs = {"IsSoftDeleted": "False", "givenName": "Ada", "surname": "Lovelace", "mail": None, "upn": "Ada@X.com"}
    assert evaluate(fn("Not", attr("IsSoftDeleted")), attrs) == "True"
    assert evaluate(fn("Join", const(" "), attr("givenName"), attr("surname")), attrs) == "Ada Lovelace"
    assert evaluate(fn("Join", const(" "), attr("mail"), attr("surname")), attrs) == "Lovelace"
    assert evaluate(fn("ToLower", attr("upn")), attrs) == "ada@x.com"
    assert evaluate(fn("ToUpper", attr("givenName")), attrs) == "ADA"
    assert evaluate(fn("Coalesce", attr("mail"), attr("upn")), attrs) == "Ada@X.com"
    assert evaluate(fn("Append", attr("givenName"), const("!")), attrs) == "Ada!"
    assert evaluate(fn("Mid", attr("surname"), const("1"), const("4")), attrs) == "Love"
    assert evaluate(fn("IsNullOrEmpty", attr("mail")), attrs) == "True"
    assert evaluate(fn("IsPresent", attr("mail")), attrs) == "False"


def test_unknown_function_is_an_error_not_a_crash():
    with pytest.raises(ExpressionError) as err:
        evaluate(fn("FormatDateTime", attr("x")), {"x": "1"})
    assert err.value.code == "SandboxFunctionNotImplemented"
    assert "FormatDateTime" in err.value.message


def test_attributes_used():
    assert attributes_used(fn("Join", const(" "), attr("givenName"), attr("surname"))) == {"givenName", "surname"}
