"""The two speed-ups under the sandbox and the audit: a JSON deep copy, and SCIM messages parametrized once."""
from __future__ import annotations

import copy
import gc
import weakref
from typing import Union

from natoma_entra.json_copy import copy_json


def test_copy_json_equals_deepcopy_and_shares_nothing_mutable():
    value = {"a": [1, {"b": None, "c": [True, 2.5, "x"]}], "d": {"e": {}}, "t": (1, [2])}
    copied = copy_json(value)
    assert copied == copy.deepcopy(value)
    copied["a"][1]["c"].append("y")
    copied["d"]["e"]["new"] = 1
    copied["t"][1].append(3)
    assert value == {"a": [1, {"b": None, "c": [True, 2.5, "x"]}], "d": {"e": {}}, "t": (1, [2])}


def test_scim_server_parametrizes_each_message_once_and_it_still_validates():
    import scim2_server.service as service
    from scim2_models import Group, ListResponse, User

    from natoma_entra.scim_generics import keep_server_generics

    keep_server_generics()
    built = weakref.ref(service.parametrize(ListResponse, Union[User, Group]))
    gc.collect()
    assert built() is not None  # kept: pydantic alone would have let it be collected and rebuilt it next request
    assert service.parametrize(ListResponse, Union[User, Group]) is built()
    page = built().model_validate({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                 "totalResults": 1, "Resources": [
                                     {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1",
                                      "userName": "adele"}]})
    assert page.resources[0].user_name == "adele"


def test_scim_client_parametrizes_each_message_once():
    import scim2_client.client as client
    from scim2_models import ListResponse, User

    from natoma_entra.natoma_scim import provider

    provider()  # installs the memo, as every client the CLI opens does
    built = weakref.ref(client._parametrize(ListResponse, [User]))
    gc.collect()
    assert built() is not None
    assert client._parametrize(ListResponse, (User,)) is built()
