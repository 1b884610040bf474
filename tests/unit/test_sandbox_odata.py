"""The sandbox's $filter parser accepts the filters Graph accepts, in the spellings Microsoft's pages use."""
import pytest

from natoma_entra.sandbox.odata_filter import ODataError, compile_filter

USERS = [{"displayName": "Lee Gu", "mail": "LeeG@contoso.com", "id": "a"},
         {"displayName": "Adele Vance", "mail": "AdeleV@fabrikam.com", "id": "b"}]


@pytest.mark.parametrize("flt,ids", [
    ("startsWith(displayName,'lee')", ["a"]),  # learn.microsoft.com/graph/filter-query-parameter spelling
    ("startswith(displayName,'Adele')", ["b"]),
    ("endsWith(mail,'@contoso.com')", ["a"]),  # learn.microsoft.com/graph/aad-advanced-queries spelling
    ("id in ('a', 'b') and not (displayName eq 'lee gu')", ["b"]),
    ("displayName eq 'O''Brien'", []),
])
def test_graph_spellings(flt, ids):
    pred = compile_filter(flt)
    assert [u["id"] for u in USERS if pred(u)] == ids


@pytest.mark.parametrize("flt", ["displayName eq", "displayName eq 'x", "frobnicate(displayName) eq 1 1"])
def test_malformed_filters_are_refused(flt):
    with pytest.raises(ODataError):
        compile_filter(flt)
