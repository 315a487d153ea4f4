"""Renders dataset records as Jira's JSON (REST v2/v3 and Agile 1.0 shapes).

Shapes follow Atlassian's official published examples (the Jira Cloud platform
and Jira Software REST API specs), which the tests keep under
`tests/fixtures/api-samples/jira`; only what a sync reads is filled in, but
every key that is present has Jira's name and type.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pmo_sync.sandbox.jira.adf import body_text, plain_doc
from pmo_sync.sandbox.jira.backlog import THEMES
from pmo_sync.sandbox.jira.fields import type_for
from pmo_sync.sandbox.jira.generator import JiraDataset
from pmo_sync.sandbox.jira.model import (
    FIELD_FLAGGED,
    FIELD_POINTS,
    FIELD_RANK,
    FIELD_SPRINT,
    LINK_TYPES,
    PRIORITIES,
    Board,
    ChangeItem,
    Comment,
    CustomField,
    History,
    Issue,
    IssueLink,
    IssueType,
    Project,
    Sprint,
    Status,
    User,
    Version,
)
from pmo_sync.sandbox.jira.timeline import USER_TZ

__all__ = [
    "ISSUE_FIELDS",
    "FieldSelection",
    "Renderer",
    "adf",
    "custom_field_entry",
    "epoch_ms",
    "field_catalog",
    "iso_z",
    "jira_time",
]

RECENT_HISTORIES = 20  # what search/jql's expand=changelog returns per issue on Cloud

# Every issue field the sandbox can return, in the order Jira lists them.
ISSUE_FIELDS = (
    "summary",
    "issuetype",
    "status",
    "project",
    "created",
    "updated",
    "resolutiondate",
    "resolution",
    "assignee",
    "reporter",
    "labels",
    "components",
    "parent",
    "description",
    "duedate",
    "priority",
    "fixVersions",
    "issuelinks",
    FIELD_POINTS,
    FIELD_SPRINT,
    FIELD_FLAGGED,
    FIELD_RANK,
)
# Shown only where the issue has them: the generated issues have none (unlike a real site,
# where every issue has a priority and a rank), so their JSON stays what it always was.
PORTFOLIO_FIELDS = frozenset(
    {"components", "duedate", "priority", "fixVersions", "issuelinks", FIELD_RANK}
)
_KEY_FIELDS = {"key", "issuekey"}


def jira_time(dt: datetime) -> str:
    """Jira's timestamp format: 2026-01-05T10:12:00.000+0000 (always UTC here)."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}+0000"


def iso_z(dt: datetime) -> str:
    """The Agile API's format for sprint dates: 2026-01-05T10:12:00.000Z."""
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def epoch_ms(dt: datetime) -> int:
    """Epoch milliseconds, as changelog/bulkfetch reports `created`."""
    return int(dt.timestamp() * 1000)


def adf(text: str) -> dict[str, Any]:
    """Plain wiki-ish text as an Atlassian Document Format doc (REST v3 bodies)."""
    content: list[dict[str, Any]] = []
    for block in [b for b in text.split("\n\n") if b.strip()]:
        lines = block.split("\n")
        if lines[0].startswith("h3. "):
            content.append(
                {
                    "type": "heading",
                    "attrs": {"level": 3},
                    "content": [{"type": "text", "text": lines[0][4:]}],
                }
            )
            lines = lines[1:]
        bullets = [ln[2:] for ln in lines if ln.startswith("* ")]
        if bullets and len(bullets) == len(lines):
            content.append(
                {
                    "type": "bulletList",
                    "content": [
                        {
                            "type": "listItem",
                            "content": [
                                {"type": "paragraph", "content": [{"type": "text", "text": b}]}
                            ],
                        }
                        for b in bullets
                    ],
                }
            )
        elif lines:
            content.append(
                {"type": "paragraph", "content": [{"type": "text", "text": "\n".join(lines)}]}
            )
    return {"type": "doc", "version": 1, "content": content}


@dataclass(frozen=True)
class FieldSelection:
    """Which issue fields a request asked for (`names` None means all of them).

    `order` is every field the site can return, in output order: the system and
    agile fields, then the created custom fields, then `comment` (which, as in
    Jira, `*all` includes and `*navigable` does not).
    """

    names: frozenset[str] | None
    order: tuple[str, ...] = ISSUE_FIELDS

    @classmethod
    def parse(
        cls, raw: Iterable[str] | str | None, default: str, custom: Sequence[str] = ()
    ) -> FieldSelection:
        """Read `fields` as Jira does: comma-separated and/or repeated; *all, *navigable, -x."""
        if raw is None:
            raw = [default]
        elif isinstance(raw, str):
            raw = [raw]
        tokens = [t.strip() for part in raw for t in str(part).split(",") if t.strip()]
        if not tokens:
            tokens = [default]
        navigable = (*ISSUE_FIELDS, *custom)
        order = (*navigable, "comment")
        excluded = {t[1:] for t in tokens if t.startswith("-")}
        named = {t for t in tokens if not t.startswith(("-", "*"))}
        if "*all" in tokens:
            named |= set(order) | _KEY_FIELDS
        elif "*navigable" in tokens:
            named |= set(navigable) | _KEY_FIELDS
        return cls(frozenset(named) - excluded, order)

    @property
    def ids_only(self) -> bool:
        """Only id and/or key asked for: Jira then allows pages of up to 5000."""
        return self.names is not None and self.names <= {"id"} | _KEY_FIELDS

    def issue_fields(self) -> list[str]:
        if self.names is None:
            return list(self.order)
        return [f for f in self.order if f in self.names]


def custom_field_entry(field: CustomField) -> dict[str, Any]:
    """A created custom field as GET /field lists it (and POST /field answers)."""
    return {
        "id": field.id,
        "key": field.id,
        "name": field.name,
        "untranslatedName": field.name,
        "custom": True,
        "orderable": True,
        "navigable": True,
        "searchable": True,
        "clauseNames": [f"cf[{field.number}]", field.name],
        "schema": field_schema(field),
    }


def field_schema(field: CustomField) -> dict[str, Any]:
    return {
        "type": type_for(field.kind).schema_type,
        "custom": field.type_key,
        "customId": field.number,
    }


def field_catalog(custom_fields: Sequence[CustomField] = ()) -> list[dict[str, Any]]:
    """GET /field: the system fields the sandbox knows, the three agile custom fields,
    then the custom fields created on the site."""

    def system(
        fid: str,
        name: str,
        schema: dict[str, Any] | None,
        clauses: Sequence[str],
        orderable: bool = True,
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": fid,
            "key": fid,
            "name": name,
            "custom": False,
            "orderable": orderable,
            "navigable": True,
            "searchable": True,
            "clauseNames": list(clauses),
        }
        if schema is not None:
            entry["schema"] = schema
        return entry

    def custom(num: int, name: str, schema: dict[str, Any], clause: str) -> dict[str, Any]:
        fid = f"customfield_{num}"
        return {
            "id": fid,
            "key": fid,
            "name": name,
            "untranslatedName": name,
            "custom": True,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": [f"cf[{num}]", clause],
            "schema": {**schema, "customId": num},
        }

    return [
        system("issuekey", "Key", None, ["id", "issue", "issuekey", "key"], orderable=False),
        system("summary", "Summary", {"type": "string", "system": "summary"}, ["summary"]),
        system(
            "issuetype",
            "Issue Type",
            {"type": "issuetype", "system": "issuetype"},
            ["issuetype", "type"],
        ),
        system(
            "status", "Status", {"type": "status", "system": "status"}, ["status"], orderable=False
        ),
        system("project", "Project", {"type": "project", "system": "project"}, ["project"]),
        system(
            "created",
            "Created",
            {"type": "datetime", "system": "created"},
            ["created", "createdDate"],
            orderable=False,
        ),
        system(
            "updated",
            "Updated",
            {"type": "datetime", "system": "updated"},
            ["updated", "updatedDate"],
            orderable=False,
        ),
        system(
            "resolutiondate",
            "Resolved",
            {"type": "datetime", "system": "resolutiondate"},
            ["resolutiondate", "resolved"],
            orderable=False,
        ),
        system(
            "resolution",
            "Resolution",
            {"type": "resolution", "system": "resolution"},
            ["resolution"],
        ),
        system("assignee", "Assignee", {"type": "user", "system": "assignee"}, ["assignee"]),
        system("reporter", "Reporter", {"type": "user", "system": "reporter"}, ["reporter"]),
        system(
            "labels", "Labels", {"type": "array", "items": "string", "system": "labels"}, ["labels"]
        ),
        system(
            "components",
            "Components",
            {"type": "array", "items": "component", "system": "components"},
            ["component"],
        ),
        system("parent", "Parent", {"type": "issuelink", "system": "parent"}, ["parent"]),
        system(
            "description",
            "Description",
            {"type": "string", "system": "description"},
            ["description"],
        ),
        system("duedate", "Due date", {"type": "date", "system": "duedate"}, ["due", "duedate"]),
        system("priority", "Priority", {"type": "priority", "system": "priority"}, ["priority"]),
        system(
            "fixVersions",
            "Fix versions",
            {"type": "array", "items": "version", "system": "fixVersions"},
            ["fixVersion"],
        ),
        system(
            "issuelinks",
            "Linked Issues",
            {"type": "array", "items": "issuelinks", "system": "issuelinks"},
            ["issueLink"],
        ),
        custom(
            10019,
            "Rank",
            {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-lexo-rank"},
            "Rank",
        ),
        custom(
            10020,
            "Sprint",
            {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
            "Sprint",
        ),
        custom(
            10016,
            "Story point estimate",
            {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"},
            "Story point estimate",
        ),
        custom(
            10021,
            "Flagged",
            {
                "type": "array",
                "items": "option",
                "custom": "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes",
            },
            "Flagged",
        ),
        *(custom_field_entry(f) for f in custom_fields),
    ]


class Renderer:
    """JSON for one request: knows the base URL, the REST version and the deployment."""

    def __init__(
        self, dataset: JiraDataset, base_url: str, version: str = "2", deployment: str = "cloud"
    ) -> None:
        self.ds = dataset
        self.base = base_url.rstrip("/")
        self.v = version
        self.deployment = deployment

    @property
    def api(self) -> str:
        return f"{self.base}/rest/api/{self.v}"

    # -- small records -------------------------------------------------------------

    def user(self, user: User | None) -> dict[str, Any] | None:
        if user is None:
            return None
        out: dict[str, Any] = {
            "self": f"{self.api}/user?accountId={user.account_id}",
            "accountId": user.account_id,
            "displayName": user.display_name,
            "active": True,
            "timeZone": USER_TZ.key,
            "accountType": "atlassian",
        }
        if self.deployment == "server":
            out["name"] = out["key"] = user.email.split("@")[0]
        return out

    def status(self, status: Status) -> dict[str, Any]:
        cat = status.category
        return {
            "self": f"{self.api}/status/{status.id}",
            "description": "",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{cat.id}",
                "id": cat.id,
                "key": cat.key,
                "colorName": cat.color_name,
                "name": cat.name,
            },
        }

    def issue_type(self, t: IssueType) -> dict[str, Any]:
        return {
            "self": f"{self.api}/issuetype/{t.id}",
            "id": t.id,
            "name": t.name,
            "subtask": t.subtask,
            "hierarchyLevel": t.hierarchy_level,
        }

    def project_ref(self, project: Project) -> dict[str, Any]:
        return {
            "self": f"{self.api}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
        }

    def project(self, project: Project) -> dict[str, Any]:
        return {
            **self.project_ref(project),
            "description": f"{project.name}, run by {project.team or 'nobody'}",
            "lead": self.user(project.lead),
            "style": "classic",
            "isPrivate": False,
            "issueTypes": [self.issue_type(t) for t in self.ds.issue_type_scheme.values()],
        }

    def sprint_field(self, sprint: Sprint) -> dict[str, Any]:
        """A sprint as the Sprint custom field (customfield_10020) shows it."""
        out: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.board_id,
            "goal": sprint.goal,
        }
        out.update(self._sprint_dates(sprint))
        return out

    def agile_sprint(self, sprint: Sprint) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": sprint.id,
            "self": f"{self.base}/rest/agile/1.0/sprint/{sprint.id}",
            "state": sprint.state,
            "name": sprint.name,
        }
        out.update(self._sprint_dates(sprint))
        out["originBoardId"] = sprint.board_id
        out["goal"] = sprint.goal
        return out

    @staticmethod
    def _sprint_dates(sprint: Sprint) -> dict[str, str]:
        dates = {}
        if sprint.start is not None:
            dates["startDate"] = iso_z(sprint.start)
        if sprint.end is not None:
            dates["endDate"] = iso_z(sprint.end)
        if sprint.complete is not None:
            dates["completeDate"] = iso_z(sprint.complete)
        return dates

    def board(self, board: Board) -> dict[str, Any]:
        project = self.ds.project(board.project_key)
        return {
            "id": board.id,
            "self": f"{self.base}/rest/agile/1.0/board/{board.id}",
            "name": board.name,
            "type": board.type,
            "location": {
                "projectId": int(project.id),
                "projectKey": project.key,
                "projectName": project.name,
                "projectTypeKey": "software",
                "displayName": f"{project.name} ({project.key})",
                "name": f"{project.name} ({project.key})",
            },
        }

    # -- changelog -------------------------------------------------------------------

    @staticmethod
    def item(item: ChangeItem) -> dict[str, Any]:
        return {
            "field": item.field,
            "fieldtype": item.fieldtype,
            "fieldId": item.field_id,
            "from": item.from_value,
            "fromString": item.from_string,
            "to": item.to_value,
            "toString": item.to_string,
        }

    def history(
        self, history: History, *, millis: bool = False, field_ids: Collection[str] | None = None
    ) -> dict[str, Any] | None:
        """One history; with `field_ids`, only those items (None when none are left)."""
        items = history.items
        if field_ids is not None:
            items = tuple(i for i in items if i.field_id in field_ids)
            if not items:
                return None
        return {
            "id": history.id,
            "author": self.user(history.author),
            "created": epoch_ms(history.created) if millis else jira_time(history.created),
            "items": [self.item(i) for i in items],
        }

    def changelog(self, issue: Issue, recent: int | None) -> dict[str, Any]:
        """The embedded changelog: all histories, or only the `recent` newest (oldest first)."""
        total = len(issue.histories)
        start = max(0, total - recent) if recent is not None else 0
        shown = issue.histories[start:]
        return {
            "startAt": start,
            "maxResults": recent if recent is not None else len(shown),
            "total": total,
            "histories": [self.history(h) for h in shown],
        }

    # -- issues ----------------------------------------------------------------------

    def issue(
        self, issue: Issue, fields: FieldSelection, *, changelog_recent: int | bool | None = False
    ) -> dict[str, Any]:
        """An issue with the requested fields; `changelog_recent` False = no changelog,
        None = the whole changelog, n = only the n most recent histories."""
        out: dict[str, Any]
        if fields.ids_only:
            out = self.issue_ref(issue.id, issue.key, fields)
        else:
            out = {
                "expand": "renderedFields,names,schema,operations,editmeta,changelog,"
                "versionedRepresentations",
                "id": issue.id,
                "self": f"{self.api}/issue/{issue.id}",
                "key": issue.key,
                "fields": self.fields(issue, fields.issue_fields()),
            }
        if changelog_recent is not False:
            out["changelog"] = self.changelog(
                issue, None if changelog_recent is None else int(changelog_recent)
            )
        return out

    def issue_ref(self, issue_id: str, key: str, fields: FieldSelection) -> dict[str, Any]:
        """An issue when only id and/or key were asked for: no "fields" object at all."""
        if fields.names is not None and fields.names <= {"id"}:
            return {"id": issue_id}
        return {"id": issue_id, "self": f"{self.api}/issue/{issue_id}", "key": key}

    def fields(self, issue: Issue, names: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if name == "parent" and issue.parent_key is None:
                continue
            value = self._field(issue, name)
            if name in PORTFOLIO_FIELDS and value in (None, []):
                continue
            out[name] = value
        return out

    # -- the portfolio fields ------------------------------------------------------------

    def priority(self, name: str) -> dict[str, Any]:
        pid = PRIORITIES[name]
        return {
            "self": f"{self.api}/priority/{pid}",
            "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg",
            "name": name,
            "id": pid,
        }

    def component(self, project_key: str, name: str) -> dict[str, Any]:
        """A component as an issue's `components` shows it; its id is stable per project
        and name (ten ids a project, the themes first)."""
        position = self.ds.project_index(project_key) or 0
        offset = THEMES.index(name) if name in THEMES else 9
        cid = str(10000 + 10 * position + offset)
        return {"self": f"{self.api}/component/{cid}", "id": cid, "name": name}

    def version(self, version: Version, *, listed: bool = False) -> dict[str, Any]:
        """A version as an issue's `fixVersions` shows it, or (`listed`) as
        `GET /project/{key}/versions` does, with its project and start date."""
        out: dict[str, Any] = {
            "self": f"{self.api}/version/{version.id}",
            "id": version.id,
            "description": "",
            "name": version.name,
            "archived": version.archived,
            "released": version.released,
        }
        if version.release_date is not None:
            out["releaseDate"] = version.release_date.isoformat()
        if listed:
            if version.start_date is not None:
                out["startDate"] = version.start_date.isoformat()
            out["projectId"] = int(self.ds.project(version.project_key).id)
        return out

    def issue_link(self, link: IssueLink) -> dict[str, Any]:
        """One entry of `issuelinks`: the type, and the other issue under `outwardIssue` when
        this issue is the outward end ("blocks" it), else under `inwardIssue`."""
        link_type = LINK_TYPES[link.type_name]
        other = self.ds.find(link.other_id)
        other_ref: dict[str, Any] = {
            "id": link.other_id,
            "key": link.other_key,
            "self": f"{self.api}/issue/{link.other_id}",
        }
        if other is not None:
            other_ref["fields"] = {
                "summary": other.summary,
                "status": self.status(other.status),
                "issuetype": self.issue_type(other.issue_type),
            }
        side = "outwardIssue" if link.direction == "outward" else "inwardIssue"
        return {
            "id": link.id,
            "self": f"{self.api}/issueLink/{link.id}",
            "type": {
                "id": link_type.id,
                "name": link_type.name,
                "inward": link_type.inward,
                "outward": link_type.outward,
                "self": f"{self.api}/issueLinkType/{link_type.id}",
            },
            side: other_ref,
        }

    def _field(self, issue: Issue, name: str) -> Any:
        if name.startswith("customfield_") and self.ds.custom_field(name) is not None:
            return issue.custom_values.get(name)
        match name:
            case "summary":
                return issue.summary
            case "issuetype":
                return self.issue_type(issue.issue_type)
            case "status":
                return self.status(issue.status)
            case "project":
                return self.project_ref(self.ds.project(issue.project_key))
            case "created":
                return jira_time(issue.created)
            case "updated":
                return jira_time(issue.updated)
            case "resolutiondate":
                return jira_time(issue.resolution_date) if issue.resolution_date else None
            case "resolution":
                if issue.resolution is None:
                    return None
                rid, rname = issue.resolution
                return {
                    "self": f"{self.api}/resolution/{rid}",
                    "id": rid,
                    "name": rname,
                    "description": "",
                }
            case "assignee":
                return self.user(issue.assignee)
            case "reporter":
                return self.user(issue.reporter)
            case "labels":
                return list(issue.labels)
            case "parent":
                return {
                    "id": issue.parent_id,
                    "key": issue.parent_key,
                    "self": f"{self.api}/issue/{issue.parent_id}",
                }
            case "description":
                if not issue.description:
                    return None
                return adf(issue.description) if self.v == "3" else issue.description
            case "comment":
                return self.comment_field(issue)
            case "customfield_10016":
                return issue.points
            case "customfield_10020":
                if not issue.sprint_ids:
                    return None
                return [self.sprint_field(self.ds.sprint(s)) for s in issue.sprint_ids]
            case "components":
                return [self.component(issue.project_key, name) for name in issue.components]
            case "duedate":
                return issue.due_date.isoformat() if issue.due_date else None
            case "priority":
                return self.priority(issue.priority) if issue.priority else None
            case "fixVersions":
                return [self.version(self.ds.version_by_id(v)) for v in issue.fix_version_ids]
            case "issuelinks":
                return [self.issue_link(link) for link in issue.links]
            case "customfield_10019":
                return issue.rank
            case "customfield_10021":
                if not issue.flagged:
                    return None
                return [
                    {
                        "self": f"{self.api}/customFieldOption/10019",
                        "value": "Impediment",
                        "id": "10019",
                    }
                ]
        return None

    # -- write-back: comments and edit metadata ------------------------------------------

    def body(self, body: str | dict[str, Any]) -> Any:
        """A stored comment body as this REST version shows it: v2 text, v3 ADF."""
        if self.v == "3":
            return body if isinstance(body, dict) else plain_doc(body)
        return body_text(body)

    def comment(
        self, issue_id: str, comment: Comment, *, properties: bool = False
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "self": f"{self.api}/issue/{issue_id}/comment/{comment.id}",
            "id": comment.id,
            "author": self.user(comment.author),
            "body": self.body(comment.body),
            "updateAuthor": self.user(comment.update_author),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.updated),
        }
        if comment.visibility:
            out["visibility"] = dict(comment.visibility)
        if self.deployment == "cloud":
            out["jsdPublic"] = True
        if properties:
            out["properties"] = [{"key": k, "value": v} for k, v in comment.properties.items()]
        return out

    def comment_field(self, issue: Issue) -> dict[str, Any]:
        """`fields.comment` of an issue: every comment, oldest first."""
        comments = [self.comment(issue.id, c) for c in issue.comments]
        return {
            "comments": comments,
            "self": f"{self.api}/issue/{issue.id}/comment",
            "maxResults": len(comments),
            "total": len(comments),
            "startAt": 0,
        }

    def editmeta(self, issue: Issue, field_ids: Sequence[str]) -> dict[str, Any]:
        """GET /issue/{key}/editmeta: the fields on the issue's edit screen."""
        catalog = {f["id"]: f for f in field_catalog(self.ds.custom_fields)}
        out: dict[str, Any] = {
            "comment": {
                "required": False,
                "schema": {"type": "comments-page", "system": "comment"},
                "name": "Comment",
                "key": "comment",
                "operations": ["add"],
            }
        }
        for fid in field_ids:
            entry = catalog[fid]
            meta: dict[str, Any] = {
                "required": fid == "summary",
                "schema": entry["schema"],
                "name": entry["name"],
                "key": fid,
                "operations": ["add", "set", "remove"] if fid == "labels" else ["set"],
            }
            if fid == "labels":
                meta["autoCompleteUrl"] = f"{self.api}/label/suggest?query="
            elif fid == "assignee":
                meta["autoCompleteUrl"] = (
                    f"{self.api}/user/assignable/search?issueKey={issue.key}&query="
                )
            out[fid] = meta
        return {"fields": out}
