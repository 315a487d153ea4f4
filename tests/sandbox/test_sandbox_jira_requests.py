"""The generated Jira portfolio: epics worked the way a team works them, checked against the
issues' own changelogs (`pmo_sync.sandbox.jira.backlog` says how the plan is made; the
dataset's `generated_requests`, `generated_links` and `generated_version_ids` are its truth).

Exact figures are seed 7 at the default size (three projects of 100 issues), the demo's."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

from pmo_sync.sandbox.jira.generator import DEFAULT_NOW, GeneratedRequest, JiraDataset
from pmo_sync.sandbox.jira.model import Issue


def _start(issue: Issue) -> datetime | None:
    """When the issue left To Do (its first status change), None if it never did."""
    return issue.status_transitions[0].at if issue.status_transitions else None


def _waiting(issue: Issue, at: datetime) -> bool:
    """Whether the issue was made an hour before `at` and not started by then."""
    start = _start(issue)
    return issue.created < at - timedelta(hours=1) and (start is None or start > at)


def _requests(dataset: JiraDataset) -> list[tuple[GeneratedRequest, Issue, list[Issue]]]:
    return [
        (r, dataset.issue(r.key), [dataset.issue(k) for k in r.children])
        for r in dataset.generated_requests()
    ]


def test_the_requests_their_themes_and_sizes(dataset: JiraDataset) -> None:
    """30 epics (9, 9 and 12), each with 3 to 12 children, 43 of the 200 children added after
    their epic started; the themes as components (45/35/20% of those with one is the plan's
    draw: seed 7's 30 epics drew more Compliance than Growth) and a few with none."""
    requests = dataset.generated_requests()
    assert Counter(r.key.split("-")[0] for r in requests) == {"ABC": 9, "DEF": 9, "GHI": 12}
    assert Counter(r.theme for r in requests) == {
        "Compliance": 10, "Growth": 9, "Reliability": 6, None: 5,
    }  # fmt: skip
    assert all(3 <= len(r.children) <= 12 for r in requests)
    assert (sum(len(r.children) for r in requests), sum(r.grown for r in requests)) == (200, 43)
    for request in requests:
        epic = dataset.issue(request.key)
        assert epic.issue_type.name == "Epic"
        assert epic.components == ([request.theme] if request.theme else [])
        for key in request.children:
            child = dataset.issue(key)
            assert (child.parent_key, child.project_key) == (epic.key, epic.project_key)
            assert child.created > epic.created
    children = {k for r in requests for k in r.children}
    parented = {i.key for i in dataset.issues if i.parent_key and i.issue_type.name != "Sub-task"}
    assert parented == children
    unplanned = [
        i
        for i in dataset.issues
        if i.issue_type.name not in ("Epic", "Sub-task") and not i.parent_key
    ]
    assert len(unplanned) == 52  # work under no epic: bugs, support tasks


def test_an_epic_is_in_progress_from_its_first_child_and_done_after_its_last(
    dataset: JiraDataset,
) -> None:
    """In progress within two hours of its first child's start; done its lag after its last
    child is done (a minute when the lag is 0), or still open while a child is."""
    statuses: Counter[str] = Counter()
    for request, epic, children in _requests(dataset):
        statuses[epic.status.name] += 1
        starts = [s for s in map(_start, children) if s is not None]
        if not starts:
            assert epic.status.name == "To Do" and not epic.status_transitions
            continue
        begun = epic.status_transitions[0]
        assert begun.to_status == "In Progress"
        assert min(starts) < begun.at <= min(starts) + timedelta(hours=2), request.key
        if not all(c.status.is_done for c in children):
            assert epic.status.name == "In Progress", request.key
            continue
        last = max(c.resolution_date for c in children if c.resolution_date is not None)
        lag = timedelta(minutes=1) if request.lag_hours == 0 else timedelta(hours=request.lag_hours)
        if last + lag < DEFAULT_NOW:
            assert (epic.status.name, epic.resolution_date) == ("Done", last + lag), request.key
        else:
            assert epic.status.name == "In Progress", request.key
    assert statuses == {"Done": 23, "In Progress": 7}


def test_children_are_started_mostly_in_rank_order(dataset: JiraDataset) -> None:
    """A child is started out of rank when an epic of its team ranked above its own (rank as
    it is now) had a child waiting (made an hour before): 52 of the 183 started children,
    28%, were (the plan takes the top epic's child 50% of the time, the second's 30%, the
    third's 20%: fewer are out of rank, since often only one epic has a child waiting)."""
    by_project: dict[str, list[tuple[GeneratedRequest, list[Issue]]]] = {}
    for request, _, children in _requests(dataset):
        by_project.setdefault(request.key.split("-")[0], []).append((request, children))
    started = out_of_rank = 0
    for requests in by_project.values():
        for request, children in requests:
            for child in children:
                at = _start(child)
                if at is None:
                    continue
                started += 1
                out_of_rank += any(
                    other.rank < request.rank and any(_waiting(c, at) for c in others)
                    for other, others in requests
                )
    assert (started, out_of_rank) == (183, 52)


def test_due_dates_are_set_when_made_and_some_slip(dataset: JiraDataset) -> None:
    """22 of 30 epics got a due date when made (no history: an initial value); 3 moved it later
    once, each move one changelog history from the team's lead, always to a later day."""
    requests = dataset.generated_requests()
    dated = [r for r in requests if r.due is not None]
    moved = [r for r in dated if r.due_moves]
    assert (len(dated), len(moved), sum(len(r.due_moves) for r in moved)) == (22, 3, 3)
    for request in dated:
        epic = dataset.issue(request.key)
        changes = epic.due_date_changes
        assert [c.to_day for c in changes] == list(request.due_moves)
        days = [request.due, *request.due_moves]
        assert all(a < b for a, b in pairwise(days))  # type: ignore[operator]
        assert epic.due_date == days[-1]
        lead = dataset.teams[epic.project_key][0]
        assert all(
            h.author == lead
            for h in epic.histories
            if any(i.field_id == "duedate" for i in h.items)
        )


def test_links_across_teams_are_made_before_the_waiting_item_starts(dataset: JiraDataset) -> None:
    """8 "Blocks" links, each between children of two projects, on both issues; made before
    the waiting item started; the blocker started first, and each was done before its waiting
    item started. One link's two items (DEF-86 blocks ABC-82) have both not started."""
    links = dataset.generated_links()
    assert len(links) == 8
    done_first = 0
    not_started: list[tuple[str, str, str]] = []
    for link in links:
        blocker, waiting = dataset.issue(link.blocker), dataset.issue(link.waiting)
        assert blocker.project_key != waiting.project_key
        assert blocker.parent_key and waiting.parent_key
        assert [(x.id, x.direction, x.other_key) for x in blocker.links] == [
            (link.id, "outward", waiting.key)
        ]
        assert [(x.id, x.direction, x.other_key) for x in waiting.links] == [
            (link.id, "inward", blocker.key)
        ]
        start = _start(waiting)
        if start is None:
            not_started.append((link.id, blocker.key, waiting.key))
            assert _start(blocker) is None
            continue
        blocker_start = _start(blocker)
        assert link.made < start and blocker_start is not None and blocker_start < start
        finished = blocker.resolution_date
        done_first += finished is not None and finished < start
    assert (done_first, not_started) == (7, [("20006", "DEF-86", "ABC-82")])


def test_releases_ship_every_few_weeks_with_the_work_done_before_them(
    dataset: JiraDataset,
) -> None:
    """Each project ships a version every 2-4 weeks and has the next one planned (26 in all,
    23 released, 4 of them after their planned day: Jira keeps only the ship day, the plan
    is the generator's truth); every item in a version was done (not Won't Do) by the day
    the version was released."""
    versions = [v for p in dataset.projects for v in dataset.versions(p.key)]
    assert frozenset(v.id for v in versions) == dataset.generated_version_ids
    assert Counter(v.project_key for v in versions) == {"ABC": 8, "DEF": 9, "GHI": 9}
    assert sum(v.released for v in versions) == 23
    assert dataset.backlog is not None
    late = [
        r.version.name
        for releases in dataset.backlog.releases
        for r in releases
        if r.version.released and r.version.release_date != r.planned
    ]
    assert late == ["ABC 1.5", "DEF 1.6", "GHI 1.2", "GHI 1.3"]
    for key in ("ABC", "DEF", "GHI"):
        mine = dataset.versions(key)
        assert [v.released for v in mine] == [True] * (len(mine) - 1) + [False]
        days = [v.release_date for v in mine]
        assert all(
            timedelta(days=14) <= b - a <= timedelta(days=34)  # type: ignore[operator]
            for a, b in pairwise(days)
        )
    in_versions = 0
    for issue in dataset.issues:
        for version_id in issue.fix_version_ids:
            in_versions += 1
            version = dataset.version_by_id(version_id)
            assert issue.status.name == "Done" and issue.resolution_date is not None
            assert version.released and version.release_date is not None
            assert issue.resolution_date.date() <= version.release_date, issue.key
    assert in_versions == 194


def test_a_site_without_its_portfolio_and_one_without_releases() -> None:
    """`portfolio=False`: unplanned work and its sub-tasks only, no portfolio fact (the site
    beside the scripted portfolio); `releases=False`: the same work as the default site, no
    version and no fix version."""
    bare = JiraDataset.generate(portfolio=False)
    issues = list(bare.issues)
    assert len(issues) == 300
    assert {i.issue_type.name for i in issues} == {"Story", "Bug", "Task", "Sub-task"}
    assert bare.generated_requests() == [] and bare.generated_links() == []
    assert all(not bare.versions(p.key) for p in bare.projects)
    assert not any(
        i.components or i.rank or i.due_date or i.links or i.fix_version_ids for i in issues
    )
    unreleased = JiraDataset.generate(releases=False)
    assert unreleased.generated_version_ids == frozenset()
    assert not any(i.fix_version_ids for i in unreleased.issues)
    assert [r.key for r in unreleased.generated_requests()] == [
        r.key for r in JiraDataset.generate().generated_requests()
    ]
