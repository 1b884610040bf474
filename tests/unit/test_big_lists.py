"""Long lists in text output (issue 26, "Big results"): natural order, bounded, "... and N more (-o json for all)",
and the JSON holding every item. Pure: hand-built doctor states and lists."""
from __future__ import annotations

from natoma_entra.doctor.checks import SHOWN, check_groups, check_multiple
from natoma_entra.listing import bounded, more, natural_key, natural_sorted

from test_checks import MEMBERS, MSIAM, RID, assign, good_state, group, user


def test_natural_order_reads_numbers_as_numbers_and_ignores_case():
    names = ["Bench 10", "bench 2", "Bench 1", "Bench 0", "Bench 1a", "Alpha", "bench 100"]
    assert natural_sorted(names) == ["Alpha", "Bench 0", "Bench 1", "Bench 1a", "bench 2", "Bench 10", "bench 100"]
    assert natural_key("x9@contoso.com") < natural_key("x10@contoso.com")


def test_a_bounded_list_says_how_many_more_and_where_they_are():
    assert bounded(list("abc"), 3) == ["a", "b", "c"]
    assert bounded([str(i) for i in range(1205)], 5)[-1] == "... and 1,200 more (-o json for all)" == more(1200)


def test_doctor_lists_200_assigned_groups_in_natural_order_bounded_with_all_in_the_data():
    """200 groups assigned besides the configured ones were listed whole and in Graph's order."""
    extra = [group(f"Bench {n}") for n in range(199, -1, -1)]  # Graph's order: not the reader's
    s = good_state()
    s.assignments = s.assignments + [assign(g, MSIAM) for g in extra]  # not configured, without a Natoma role
    s.groups = {**s.groups, **{g["id"]: g for g in extra}}
    r = check_groups(s)
    assert r.verdict == "ok"
    also = [d for d in r.details if d.startswith("also assigned")]
    assert [a.split("'")[1] for a in also] == [f"Bench {n}" for n in range(SHOWN)]  # Bench 0, 1, 2, ... not 10
    assert more(200 - SHOWN) in r.details
    assert [a["group"] for a in r.data["alsoAssigned"]] == [f"Bench {n}" for n in range(200)]


def test_multiple_grants_are_in_natural_order_and_the_cut_says_where_the_rest_are():
    admins = group("Admins")
    users = [user(f"Bench {n}") for n in range(30)]
    s = good_state(assignments=[assign(admins, RID["admin"]), assign(MEMBERS, RID["member"])],
                   groups={g["id"]: g for g in (admins, MEMBERS)},
                   members={admins["id"]: list(reversed(users)), MEMBERS["id"]: users})
    r = check_multiple(s)
    assert r.verdict == "fail"
    names = [d.split(" (")[0] for d in r.details[:SHOWN]]
    assert names == [f"Bench {n}" for n in range(SHOWN)]  # "Bench 0, Bench 1, Bench 10" before
    assert r.details[SHOWN] == more(30 - SHOWN)
    assert len(r.data["users"]) == 30


def test_doctor_text_bounds_any_long_details_and_says_where_the_rest_are():
    """A check whose details are long (200 groups holding a Natoma role without being configured) is cut in text;
    the JSON report's details hold every line."""
    import io

    from natoma_entra.doctor.read import to_step
    from natoma_entra.render.console import make_console
    from natoma_entra.render.doctor import render_doctor
    from natoma_entra.results import Report

    extra = [group(f"Bench {n}") for n in range(199, -1, -1)]
    s = good_state()
    s.assignments = s.assignments + [assign(g, RID["member"]) for g in extra]
    s.groups = {**s.groups, **{g["id"]: g for g in extra}}
    r = check_groups(s)
    assert r.verdict == "warn" and len(r.details) == 202  # every line, for the JSON report
    assert r.details[0].startswith("'Bench 0' ") and r.details[10].startswith("'Bench 10' ")
    report = Report(command="doctor")
    report.add(to_step(r))
    out = io.StringIO()
    render_doctor(report, make_console(file=out))
    text = out.getvalue()
    assert "'Bench 39' (Group)" in text and "'Bench 40' (Group)" not in text
    assert more(202 - 2 * SHOWN) in text
