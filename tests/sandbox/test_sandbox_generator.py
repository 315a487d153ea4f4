"""The generator's ground truth: deterministic, realistic, and consistent with its changelog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from pmo_sync.sandbox.jira.generator import DEFAULT_NOW, JiraDataset
from pmo_sync.sandbox.jira.model import FIELD_POINTS, FIELD_SPRINT, Issue
from pmo_sync.sandbox.jira.timeline import USER_TZ


def _fingerprint(ds: JiraDataset) -> list[tuple]:
    return [
        (
            i.id,
            i.key,
            i.summary,
            i.status.name,
            i.points,
            tuple(i.sprint_ids),
            i.created,
            i.updated,
            tuple((h.id, h.created, h.author.account_id, h.items) for h in i.histories),
            tuple(i.sprint_stays),
        )
        for i in ds.issues
    ]


def _transitions(issue: Issue) -> list[tuple[str, str]]:
    return [(t.from_status, t.to_status) for t in issue.status_transitions]


def test_same_seed_gives_the_same_dataset(dataset: JiraDataset) -> None:
    """Two generations from seed 7 are identical, down to history ids and authors."""
    assert _fingerprint(JiraDataset.generate(seed=7)) == _fingerprint(dataset)
    assert _fingerprint(JiraDataset.generate(seed=8)) != _fingerprint(dataset)


def test_issues_regenerate_identically_after_eviction(dataset: JiraDataset) -> None:
    """An issue materialised again from (seed, number) equals the first materialisation."""
    other = JiraDataset.generate()
    first = other.issue("DEF-42")
    other._cache.clear()
    again = other.issue("DEF-42")
    assert again is not first
    assert again.histories == first.histories == dataset.issue("DEF-42").histories


def test_shape_of_the_site(dataset: JiraDataset) -> None:
    """Three projects of 100 issues, ids numeric and keys per project, in creation order."""
    assert [p.key for p in dataset.projects] == ["ABC", "DEF", "GHI"]
    assert [p.team for p in dataset.projects] == ["Team Alpha", "Team Beta", "Team Gamma"]
    issues = list(dataset.issues)
    assert len(issues) == 300
    assert issues[0].id == "10001" and issues[0].key == "ABC-1"
    assert [i.id for i in issues] == [str(10001 + n) for n in range(300)]
    for key in ("ABC", "DEF", "GHI"):
        mine = [i for i in issues if i.project_key == key]
        assert [i.key for i in mine] == [f"{key}-{n}" for n in range(1, 101)]
        assert [i.created for i in mine] == sorted(i.created for i in mine)
    assert all(DEFAULT_NOW - timedelta(days=181) < i.created < DEFAULT_NOW for i in issues)
    types = {i.issue_type.name for i in issues}
    assert types == {"Story", "Bug", "Task", "Epic", "Sub-task"}


def test_boards_and_sprint_calendars(dataset: JiraDataset) -> None:
    """Scrum boards: >= 6 closed two-week sprints, one active containing now, one future."""
    assert [(b.id, b.name, b.type, b.project_key) for b in dataset.boards] == [
        (1, "Team Alpha", "scrum", "ABC"),
        (2, "Team Beta", "scrum", "DEF"),
        (3, "Team Gamma", "scrum", "GHI"),
        (4, "Gamma Flow", "kanban", "GHI"),
    ]
    assert dataset.board_sprints(4) == []
    ids = [s.id for s in dataset.sprints]
    assert ids == list(range(1, len(ids) + 1))
    for board, key in ((1, "ABC"), (2, "DEF"), (3, "GHI")):
        sprints = dataset.board_sprints(board)
        states = [s.state for s in sprints]
        assert states.count("closed") >= 6
        assert states[-2:] == ["active", "future"] and states.count("active") == 1
        assert [s.name for s in sprints] == [f"{key} Sprint {n}" for n in range(1, 16)]
        active = sprints[-2]
        assert active.start <= DEFAULT_NOW < active.end
        for before, after in pairwise(sprints[:-1]):  # the future sprint has no dates
            local_start = after.start.astimezone(USER_TZ)
            assert (local_start.date() - before.start.astimezone(USER_TZ).date()).days == 14
            assert (local_start.hour, local_start.minute) == (9, 30)  # across DST too
            assert before.end < before.complete < after.start


def test_histories_strictly_increase_and_set_updated(dataset: JiraDataset) -> None:
    """Per issue: history times strictly increase after created; updated is the last one."""
    seen: set[str] = set()
    for issue in dataset.issues:
        times = [h.created for h in issue.histories]
        assert all(a < b for a, b in pairwise(times)), issue.key
        assert all(t > issue.created for t in times)
        assert issue.updated == (times[-1] if times else issue.created)
        ids = [int(h.id) for h in issue.histories]
        assert ids == sorted(ids)
        assert not seen & {h.id for h in issue.histories}
        seen |= {h.id for h in issue.histories}
        assert all(t < DEFAULT_NOW for t in times)


def test_some_issues_have_long_changelogs(dataset: JiraDataset) -> None:
    """At least 3 issues overflow a 100-history changelog page (and the 20 search returns)."""
    long = [i.key for i in dataset.issues if len(i.histories) > 120]
    assert len(long) >= 3


def test_workflows_are_messy(dataset: JiraDataset) -> None:
    """Backward moves, reopenings, skipped states and never-started items all occur."""
    issues = list(dataset.issues)
    moves = [_transitions(i) for i in issues]
    assert sum(("In Review", "In Progress") in m for m in moves) >= 5
    assert sum(("Done", "In Progress") in m for m in moves) >= 3
    assert sum(("To Do", "Done") in m for m in moves) >= 3
    assert sum(("To Do", "In Review") in m for m in moves) >= 3
    never = [i for i in issues if not i.status_transitions and i.issue_type.name != "Epic"]
    assert len(never) >= 10 and all(i.status.name == "To Do" for i in never)
    assert any(i.status.name == "Won't Do" for i in issues)


def test_sprint_scope_changes(dataset: JiraDataset) -> None:
    """Items join running sprints, leave them, and are carried over at close."""
    sprints = {s.id: s for s in dataset.sprints}
    issues = list(dataset.issues)
    added_late = removed = carried = created_inside = 0
    for issue in issues:
        for stay in issue.sprint_stays:
            sprint = sprints[stay.sprint_id]
            if sprint.start and sprint.start < stay.added_at < sprint.end:
                added_late += stay.added_at != issue.created
                created_inside += stay.added_at == issue.created
            removed += stay.removed_at is not None
        for a, b in pairwise(issue.sprint_stays):
            if a.removed_at is None and sprints[a.sprint_id].complete == b.added_at:
                carried += 1
    assert added_late >= 5
    assert removed >= 3
    assert carried >= 10
    assert created_inside >= 5


def test_carry_over_happens_exactly_for_unfinished_items(dataset: JiraDataset) -> None:
    """At each sprint close, an item still in it moves on iff it was not done at that moment."""
    sprints = {s.id: s for s in dataset.sprints}
    for issue in dataset.issues:
        for stay in issue.sprint_stays:
            sprint = sprints[stay.sprint_id]
            if sprint.state != "closed" or stay.removed_at is not None:
                continue
            if stay.added_at > sprint.complete:
                continue
            status = "To Do"
            for t in issue.status_transitions:
                if t.at <= sprint.complete:
                    status = t.to_status
            next_stays = [s for s in issue.sprint_stays if s.added_at == sprint.complete]
            assert bool(next_stays) == (status not in ("Done", "Won't Do")), issue.key


def test_estimates(dataset: JiraDataset) -> None:
    """Re-estimates (some mid-sprint) and stories with no estimate at all."""
    sprints = {s.id: s for s in dataset.sprints}
    issues = list(dataset.issues)
    reestimated = [i for i in issues if any(e.from_points is not None for e in i.estimate_changes)]
    assert len(reestimated) >= 10
    mid_sprint = [
        i
        for i in reestimated
        if any(
            sprints[s.sprint_id].start
            and sprints[s.sprint_id].start
            < e.at
            < (s.removed_at or sprints[s.sprint_id].complete or DEFAULT_NOW)
            and e.at > s.added_at
            for e in i.estimate_changes
            for s in i.sprint_stays
        )
    ]
    assert len(mid_sprint) >= 3
    unestimated = [
        i
        for i in issues
        if i.issue_type.name == "Story" and i.points is None and not i.estimate_changes
    ]
    assert len(unestimated) >= 5
    for issue in issues:
        points = [e.to_points for e in issue.estimate_changes]
        if points:
            assert issue.points == points[-1]


def test_people_flags_and_noise(dataset: JiraDataset) -> None:
    """Assignee changes, flag on and off, and label/description/summary edits."""
    issues = list(dataset.issues)
    assert sum(len(i.assignee_changes) > 1 for i in issues) >= 5
    assert sum(any(not f.flagged for f in i.flag_changes) for i in issues) >= 5
    fields = {it.field for i in issues for h in i.histories for it in h.items}
    assert {"labels", "description", "summary", "Flagged", "assignee", "resolution"} <= fields
    with_criteria = [i for i in issues if i.has_acceptance_criteria]
    stories = [i for i in issues if i.issue_type.name == "Story"]
    assert 0 < len(with_criteria) < len(stories)


def test_odd_hours_in_new_york(dataset: JiraDataset) -> None:
    """Some activity happens at 23:30 New York time, and some in the small hours."""
    local = [h.created.astimezone(USER_TZ) for i in dataset.issues for h in i.histories]
    assert sum(t.hour == 23 and t.minute == 30 for t in local) >= 3
    assert sum(t.hour < 6 for t in local) >= 10
    office = sum(9 <= t.hour < 18 and t.weekday() < 5 for t in local)
    assert office > len(local) * 0.6


def test_initial_values_are_not_logged(dataset: JiraDataset) -> None:
    """The changelog replays to the current fields from the created values, with no
    history for initial status, points, sprint or assignee."""
    for issue in dataset.issues:
        status = "To Do"
        sprint_field: str | None = None
        for h in issue.histories:
            for item in h.items:
                if item.field_id == "status":
                    assert item.from_string == status
                    status = item.to_string
                elif item.field_id == FIELD_SPRINT:
                    if sprint_field is None and issue.sprint_stays:
                        first = issue.sprint_stays[0]
                        expected = str(first.sprint_id) if first.added_at == issue.created else ""
                        assert item.from_value == expected, issue.key
                    elif sprint_field is not None:
                        assert item.from_value == sprint_field
                    sprint_field = item.to_value
        assert status == issue.status.name
        if sprint_field is not None:
            assert sprint_field == ", ".join(str(s) for s in issue.sprint_ids)
        transitions = [
            (h.id, h.created, it.from_string, it.to_string)
            for h in issue.histories
            for it in h.items
            if it.field_id == "status"
        ]
        assert transitions == [tuple(t) for t in issue.status_transitions]
        estimates = [
            (h.id, it.to_string)
            for h in issue.histories
            for it in h.items
            if it.field_id == FIELD_POINTS
        ]
        assert estimates == [
            (e.history_id, None if e.to_points is None else f"{e.to_points:g}")
            for e in issue.estimate_changes
        ]


def test_resolution_follows_done_category(dataset: JiraDataset) -> None:
    """Done-category issues carry a resolution and resolution date; others carry none."""
    for issue in dataset.issues:
        if issue.status.is_done:
            assert issue.resolution is not None and issue.resolution_date is not None
            assert issue.resolution_date == issue.status_transitions[-1].at
        else:
            assert issue.resolution is None and issue.resolution_date is None


def test_hierarchy(dataset: JiraDataset) -> None:
    """Sub-tasks hang under stories and some stories under epics, within the project."""
    by_key = {i.key: i for i in dataset.issues}
    subtasks = [i for i in by_key.values() if i.issue_type.name == "Sub-task"]
    assert subtasks
    for sub in subtasks:
        parent = by_key[sub.parent_key]
        assert parent.issue_type.name == "Story" and parent.project_key == sub.project_key
        assert parent.id == sub.parent_id and parent.created < sub.created
    with_epic = [i for i in by_key.values() if i.issue_type.name == "Story" and i.parent_key]
    assert len(with_epic) >= 10
    assert all(by_key[i.parent_key].issue_type.name == "Epic" for i in with_epic)


def test_generate_requires_an_aware_now() -> None:
    """A naive `now` would make every timestamp ambiguous."""
    with pytest.raises(ValueError):
        JiraDataset.generate(now=datetime(2026, 1, 1))


def test_larger_sites_stay_lazy() -> None:
    """A 6,000-issue site keeps only its index; issues are generated on demand."""
    ds = JiraDataset.generate(
        projects=("ABC", "DEF"), issues_per_project=3000, now=datetime(2026, 3, 1, tzinfo=UTC)
    )
    assert len(ds.index) == 6000
    assert not ds._cache and not ds._overlay
    assert ds.issue("DEF-3000").key == "DEF-3000"
    assert len(ds._cache) == 1
