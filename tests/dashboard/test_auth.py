"""Who may read the dashboard: the settings it comes from, the users file, loopback, the refusal.

The commands are run in-process (`run_cli`); the server answering over HTTP
is in test_serving.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from werkzeug.security import check_password_hash, generate_password_hash

from pmo_sync.dashboard.auth import (
    DashboardAuth,
    DashboardAuthError,
    auth_from_settings,
    is_loopback,
    read_users_file,
    refusal,
)
from pmo_sync.settings import Settings, get_settings

from ..cli_support import cli_state_restored, run_cli

TOKEN = "dashboard-token-4f9a1c"
REFUSAL_SERVE = (
    "error: refusing to serve the dashboard on 0.0.0.0 without authentication: set "
    "PMO_SYNC_DASHBOARD_TOKEN, PMO_SYNC_DASHBOARD_TOKEN_FILE or PMO_SYNC_DASHBOARD_USERS_FILE, "
    "or bind 127.0.0.1 (PMO_SYNC_DASHBOARD=off serves only /healthz, /readyz and /metrics)"
)
REFUSAL_DASHBOARD = REFUSAL_SERVE.split(" (PMO_SYNC_DASHBOARD=off")[0]
HASHED = generate_password_hash("correct horse")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No dashboard or HTTP variables and no .env from the developer's machine."""
    for name in ("DASHBOARD", "DASHBOARD_TOKEN", "DASHBOARD_TOKEN_FILE", "DASHBOARD_USERS_FILE"):
        monkeypatch.delenv(f"PMO_SYNC_{name}", raising=False)
    for name in ("HTTP_HOST", "HTTP_PORT", "CONFIG_DIR", "LOG_FORMAT", "LOG_LEVEL"):
        monkeypatch.delenv(f"PMO_SYNC_{name}", raising=False)
    monkeypatch.setenv("PMO_SYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'none' / 'store.db'}")
    monkeypatch.chdir(tmp_path)
    with cli_state_restored():
        yield


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- the settings -------------------------------------------------------------------------


def test_no_token_and_no_users_file_is_no_authentication() -> None:
    assert auth_from_settings(Settings()) is None


def test_the_token_is_a_secret_nothing_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMO_SYNC_DASHBOARD_TOKEN", TOKEN)
    settings = Settings()
    auth = auth_from_settings(settings)
    assert auth is not None and auth.configured
    for text in (repr(settings), str(settings), repr(auth), str(settings.model_dump())):
        assert TOKEN not in text
    assert auth.allows(f"Bearer {TOKEN}")
    assert auth.allows(_basic("anyone", TOKEN))
    assert not auth.allows(f"Bearer {TOKEN}x")
    assert not auth.allows(None)


def test_the_token_file_is_read_without_its_line_end(tmp_path: Path) -> None:
    path = tmp_path / "dashboard_token"
    path.write_text(f"{TOKEN}\n", encoding="utf-8")
    auth = auth_from_settings(Settings(dashboard_token_file=path))
    assert auth is not None
    assert isinstance(auth.token, SecretStr) and auth.token.get_secret_value() == TOKEN
    assert auth.allows(f"Bearer {TOKEN}")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read it (No such file or directory)"), ("\n", "the file is empty")],
)
def test_a_token_file_missing_or_empty_is_an_error_naming_it(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "dashboard_token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DashboardAuthError) as raised:
        auth_from_settings(Settings(dashboard_token_file=path))
    assert str(raised.value) == f"PMO_SYNC_DASHBOARD_TOKEN_FILE {path}: {problem}"


def test_a_token_given_both_ways_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "dashboard_token"
    path.write_text(TOKEN, encoding="utf-8")
    settings = Settings(dashboard_token=SecretStr(TOKEN), dashboard_token_file=path)
    with pytest.raises(DashboardAuthError) as raised:
        auth_from_settings(settings)
    assert str(raised.value) == (
        "set PMO_SYNC_DASHBOARD_TOKEN or PMO_SYNC_DASHBOARD_TOKEN_FILE, not both"
    )


def test_the_users_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"# the PMO\n\nana:{HASHED}\n  bo : {HASHED}  \n", encoding="utf-8")
    assert read_users_file(path) == {"ana": HASHED, "bo": HASHED}
    auth = auth_from_settings(Settings(dashboard_users_file=path))
    assert auth is not None and auth.token is None
    assert auth.allows(_basic("ana", "correct horse"))
    assert not auth.allows(_basic("ana", "wrong horse"))
    assert not auth.allows(_basic("nobody", "correct horse"))
    assert not auth.allows("Bearer correct horse")


@pytest.mark.parametrize(
    "line",
    [
        "ana",  # no colon
        ":" + HASHED,  # no user
        "ana:correct horse",  # a password where its hash belongs
        "ana:md5$salt$digest",  # not a werkzeug method
        "ana:scrypt:32768:8:1$salt",  # no digest
    ],
)
def test_a_malformed_users_line_names_the_file_and_line_never_its_text(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "users"
    path.write_text(f"# users\nbo:{HASHED}\n{line}\n", encoding="utf-8")
    with pytest.raises(DashboardAuthError) as raised:
        read_users_file(path)
    assert str(raised.value) == (
        f"{path}:3: expected `user:hash`, the hash made by `pmo-sync dashboard --hash-password`"
    )


def test_a_user_twice_or_no_user_at_all_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text(f"ana:{HASHED}\nana:{HASHED}\n", encoding="utf-8")
    with pytest.raises(DashboardAuthError) as raised:
        read_users_file(path)
    assert str(raised.value) == f"{path}:2: user 'ana' is already on a line above"
    path.write_text("# nobody yet\n", encoding="utf-8")
    with pytest.raises(DashboardAuthError) as raised:
        read_users_file(path)
    assert str(raised.value) == f"PMO_SYNC_DASHBOARD_USERS_FILE {path}: no `user:hash` line"


def test_a_plain_string_token_is_kept_as_a_secret() -> None:
    auth = DashboardAuth(token=TOKEN)
    assert isinstance(auth.token, SecretStr)
    assert TOKEN not in repr(auth)
    assert auth.allows(f"bearer {TOKEN}")
    assert not DashboardAuth(token="").configured


# -- loopback ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.1.2.3", False),
        ("dashboard.example.org", False),
    ],
)
def test_only_loopback_addresses_need_no_authentication(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_refusal_names_the_address_and_the_settings() -> None:
    assert refusal("0.0.0.0", probes_only_setting=True) == REFUSAL_SERVE
    assert refusal("0.0.0.0", probes_only_setting=False) == REFUSAL_DASHBOARD
    assert refusal("", probes_only_setting=False).startswith(
        "error: refusing to serve the dashboard on every address without authentication"
    )


# -- the commands --------------------------------------------------------------------------


def test_dashboard_refuses_to_bind_beyond_loopback_without_authentication() -> None:
    result = run_cli(["dashboard", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert result.stderr == REFUSAL_DASHBOARD + "\n"
    assert result.stdout == ""


def test_serve_refuses_to_bind_beyond_loopback_without_authentication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PMO_SYNC_HTTP_HOST", "0.0.0.0")
    result = run_cli(["serve", "--port", "0"])
    assert result.exit_code == 2
    assert result.stderr == REFUSAL_SERVE + "\n"
    assert result.stdout == ""


def test_serve_with_the_dashboard_off_needs_no_authentication(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not refused: it goes on to read its config directory (absent here: that is its exit 2)."""
    monkeypatch.setenv("PMO_SYNC_DASHBOARD", "off")
    monkeypatch.setenv("PMO_SYNC_CONFIG_DIR", str(tmp_path / "no-config"))
    result = run_cli(["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "refusing" not in result.stderr
    assert str(tmp_path / "no-config") in result.stderr


def test_a_malformed_users_file_stops_both_commands_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "users"
    path.write_text("ana:correct horse\n", encoding="utf-8")
    monkeypatch.setenv("PMO_SYNC_DASHBOARD_USERS_FILE", str(path))
    line = (
        f"error: {path}:1: expected `user:hash`, the hash made by "
        "`pmo-sync dashboard --hash-password`\n"
    )
    for args in (["dashboard", "--port", "0"], ["serve", "--port", "0"]):
        result = run_cli(args, secrets=["correct horse"])
        assert (result.exit_code, result.stderr, result.stdout) == (2, line, "")


def test_the_dashboard_on_a_store_nobody_synced_says_so_like_every_reading_command(
    tmp_path: Path,
) -> None:
    result = run_cli(["dashboard", "--port", "0"])
    assert result.exit_code == 0
    assert result.stderr == (
        f"store {tmp_path / 'none' / 'store.db'} does not exist: nothing has been synced there "
        "yet; run `pmo-sync sync`, or check PMO_SYNC_DATABASE_URL\n"
    )
    assert result.stdout == ""


def test_hash_password_prints_a_hash_that_verifies() -> None:
    from typer.testing import CliRunner

    from pmo_sync.cli import app

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["dashboard", "--hash-password"], input="correct horse\n")
    assert result.exit_code == 0, result.output
    hashed = result.stdout.strip()
    assert result.stdout == hashed + "\n"
    assert "correct horse" not in result.stdout
    assert check_password_hash(hashed, "correct horse")
    assert not check_password_hash(hashed, "correct horse\n")
    users = Path("users")
    users.write_text(f"ana:{hashed}\n", encoding="utf-8")
    assert DashboardAuth(users=read_users_file(users)).allows(_basic("ana", "correct horse"))


def test_hash_password_refuses_an_empty_password() -> None:
    from typer.testing import CliRunner

    from pmo_sync.cli import app

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["dashboard", "--hash-password"], input="\n")
    assert result.exit_code == 2
    assert result.stderr == "error: empty password\n"
    assert result.stdout == ""


def test_an_unknown_user_costs_a_hash_check_like_a_known_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The answer's time must not tell which user names exist: both paths check one hash."""
    import pmo_sync.dashboard.auth as auth_module

    checked: list[str] = []
    real = auth_module.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(auth_module, "check_password_hash", counting)
    auth = DashboardAuth(users={"ana": HASHED})
    assert not auth.allows(_basic("nobody", "correct horse"))
    assert not auth.allows(_basic("ana", "wrong horse"))
    assert len(checked) == 2 and checked[0] != HASHED and checked[1] == HASHED
    assert not real(checked[0], "correct horse")
