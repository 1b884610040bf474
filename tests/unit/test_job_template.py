"""Choosing the provisioning template: "scim" first, whatever the template list says (Microsoft documents POST jobs
{"templateId": "scim"} for non-gallery apps, not what GET templates lists); the listed templates are fallbacks."""
from natoma_entra.steps.job import pick_job, template_choice


def test_scim_first_even_when_listed_among_others():
    assert template_choice([{"id": "customappsso"}, {"id": "scim"}]) == ("scim", ["customappsso"])


def test_scim_first_when_the_list_is_empty():
    assert template_choice([]) == ("scim", [])


def test_scim_first_when_only_other_templates_are_listed_and_they_are_the_fallbacks_in_order():
    assert template_choice([{"id": "a"}, {"id": "b"}]) == ("scim", ["a", "b"])


def test_malformed_entries_are_ignored():
    assert template_choice([{"id": None}, "x", {"displayName": "no id"}, {"id": "c"}]) == ("scim", ["c"])


def test_pick_job_prefers_the_scim_job():
    jobs = [{"id": "x", "templateId": "other"}, {"id": "y", "templateId": "scim"}]
    assert pick_job(jobs)["id"] == "y"
    assert pick_job([{"id": "z", "templateId": "other"}])["id"] == "z"
    assert pick_job([]) is None
