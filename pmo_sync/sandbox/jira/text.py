"""Plausible issue text: summaries, descriptions, labels, people and sprint goals.

Only there so the sandbox looks like a real team's tracker (and so descriptions
vary: some carry an "Acceptance criteria" section, some do not).
"""

from __future__ import annotations

import random

__all__ = [
    "FIRST_NAMES",
    "LABELS",
    "LAST_NAMES",
    "description_for",
    "edited_description",
    "edited_summary",
    "sprint_goal",
    "summary_for",
]

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Felix",
    "Grace",
    "Hiro",
    "Isla",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Nico",
    "Olu",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tariq",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Adler",
    "Bauer",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Underwood",
    "Vargas",
    "Weber",
    "Young",
    "Zhang",
)
LABELS = (
    "frontend",
    "backend",
    "api",
    "tech-debt",
    "customer",
    "security",
    "performance",
    "ux",
    "infra",
    "data",
)

_VERBS = ("Add", "Support", "Improve", "Refactor", "Allow", "Show", "Validate", "Export", "Cache")
_OBJECTS = (
    "invoice PDF",
    "CSV export",
    "login flow",
    "order history",
    "search filters",
    "notification settings",
    "audit log",
    "payment retries",
    "user avatars",
    "billing page",
    "webhook delivery",
    "password reset",
    "dashboard widgets",
    "report scheduler",
    "team permissions",
    "API rate limits",
    "onboarding checklist",
    "tax calculation",
)
_QUALIFIERS = (
    "for admins",
    "on mobile",
    "in the EU region",
    "for large accounts",
    "with pagination",
    "behind a feature flag",
    "for read-only users",
    "",
    "",
    "",
)
_BUG_CONDITIONS = (
    "times out for large accounts",
    "shows the wrong currency",
    "fails after session expiry",
    "duplicates entries on retry",
    "breaks on Safari",
    "ignores the time zone",
    "returns 500 on empty input",
    "loses filters on refresh",
)
_TASKS = (
    "Upgrade {o} dependencies",
    "Write runbook for {o}",
    "Set up alerts for {o}",
    "Clean up feature flag for {o}",
    "Migrate {o} to the new queue",
)
_THEMES = (
    "Self-service billing",
    "Mobile parity",
    "Enterprise readiness",
    "Reporting revamp",
    "Checkout reliability",
    "Onboarding v2",
    "Data retention",
    "Performance budget",
)
_ROLES = ("account admin", "billing manager", "support agent", "new user", "team lead")
_BENEFITS = (
    "I can finish my work without contacting support",
    "I spend less time on manual checks",
    "our customers trust the numbers they see",
    "I can plan the next release with confidence",
)
_GOALS = (
    "Ship {o} to beta customers",
    "Stabilise {o}",
    "Finish the {o} rework",
    "Burn down tech debt around {o}",
    "",
    "Demo {o} at the review",
)


def summary_for(rng: random.Random, type_name: str) -> str:
    """A one-line summary in the style of the issue type."""
    obj = rng.choice(_OBJECTS)
    if type_name == "Epic":
        return rng.choice(_THEMES)
    if type_name == "Bug":
        return f"{obj.capitalize()} {rng.choice(_BUG_CONDITIONS)}"
    if type_name in ("Task", "Sub-task"):
        return rng.choice(_TASKS).format(o=obj)
    qualifier = rng.choice(_QUALIFIERS)
    return f"{rng.choice(_VERBS)} {obj}" + (f" {qualifier}" if qualifier else "")


def description_for(rng: random.Random, type_name: str, summary: str) -> str:
    """Plain-text (wiki markup) description; stories often carry acceptance criteria."""
    if type_name == "Bug":
        return (
            f"Steps to reproduce:\n# Open the {rng.choice(_OBJECTS)}\n# {summary}\n\n"
            "Expected: it works.\nActual: it does not."
        )
    if type_name == "Story":
        text = (
            f"As a {rng.choice(_ROLES)}, I want to {summary[0].lower() + summary[1:]}"
            f" so that {rng.choice(_BENEFITS)}."
        )
        if rng.random() < 0.6:
            criteria = rng.sample(
                [
                    "The change is covered by automated tests",
                    "Errors are shown inline",
                    "Works for accounts with 10k+ records",
                    "Copy reviewed by UX",
                    "Audit log entry written",
                ],
                k=rng.randint(2, 3),
            )
            text += "\n\nh3. Acceptance criteria\n" + "\n".join(f"* {c}" for c in criteria)
        return text
    if type_name == "Epic":
        return f"Theme: {summary}. Outcome: {rng.choice(_BENEFITS)}."
    return "" if rng.random() < 0.3 else f"Context: {rng.choice(_BENEFITS)}."


def edited_description(rng: random.Random, current: str, n: int) -> str:
    """A small, always-different edit of a description (noise in the changelog)."""
    return f"{current}\n\nUpdate {n}: {rng.choice(_BENEFITS)}."[-4000:]


def edited_summary(current: str) -> str:
    """Toggle a trailing marker so the summary changes and can change back."""
    marker = " (follow-up)"
    return current[: -len(marker)] if current.endswith(marker) else current + marker


def sprint_goal(rng: random.Random) -> str:
    """A sprint goal, sometimes empty as in real teams."""
    return rng.choice(_GOALS).format(o=rng.choice(_OBJECTS))
