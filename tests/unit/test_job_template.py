"""Choosing the provisioning template: 'scim' when offered, else the one other template (said), else an error."""
import asyncio

import pytest

from natoma_entra.config import Config
from natoma_entra.graph.errors import UsageError
from natoma_entra.session import Session
from natoma_entra.steps.job import choose_template, pick_job


def session_with(templates):
    s = Session(graph=None, config=Config(app="Natoma"))
    s.remember("app", type("App", (), {"sp_id": "sp"})())
    s.remember("templates", templates)
    return s


def test_scim_is_chosen_when_offered():
    assert asyncio.run(choose_template(session_with([{"id": "customappsso"}, {"id": "scim"}]))) == ("scim", None)


def test_the_one_other_template_is_used_and_said():
    tid, warning = asyncio.run(choose_template(session_with([{"id": "customappsso"}])))
    assert tid == "customappsso" and "customappsso" in warning and "no 'scim' template" in warning


def test_no_template_means_the_app_cannot_provision():
    with pytest.raises(UsageError) as e:
        asyncio.run(choose_template(session_with([])))
    assert "non-gallery" in e.value.fix


def test_several_templates_without_scim_is_an_error_listing_them():
    with pytest.raises(UsageError) as e:
        asyncio.run(choose_template(session_with([{"id": "a"}, {"id": "b"}])))
    assert "a, b" in str(e.value)


def test_pick_job_prefers_the_scim_job():
    jobs = [{"id": "x", "templateId": "other"}, {"id": "y", "templateId": "scim"}]
    assert pick_job(jobs)["id"] == "y"
    assert pick_job([{"id": "z", "templateId": "other"}])["id"] == "z"
    assert pick_job([]) is None
