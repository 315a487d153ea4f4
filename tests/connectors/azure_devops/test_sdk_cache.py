"""The SDK's disk cache lives under pmo-sync's cache directory, never in `~/.azure-devops`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from connectors.azure_devops.sdk_cache import sdk_cache_dir


def test_the_cache_directory_follows_pmo_sync_then_xdg_then_home(tmp_path: Path) -> None:
    home = Path.home()
    assert sdk_cache_dir({"PMO_SYNC_CACHE_DIR": "/var/cache/pmo"}) == Path(
        "/var/cache/pmo/azure-devops"
    )
    assert sdk_cache_dir({"XDG_CACHE_HOME": "/srv/cache"}) == Path(
        "/srv/cache/pmo-sync/azure-devops"
    )
    assert sdk_cache_dir({}) == home / ".cache" / "pmo-sync" / "azure-devops"


def _import_in_a_clean_process(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in _CACHE_VARIABLES}
    environ.update(HOME=str(home), **env)
    code = (
        "import connectors.azure_devops, os\n"
        "from azure.devops import _file_cache\n"
        "print(_file_cache.DEFAULT_CACHE_DIR)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )


_CACHE_VARIABLES = ("PMO_SYNC_CACHE_DIR", "XDG_CACHE_HOME", "AZURE_DEVOPS_CACHE_DIR")


def test_importing_the_connector_keeps_the_sdk_out_of_the_home_directory(tmp_path: Path) -> None:
    done = _import_in_a_clean_process(tmp_path)
    wanted = tmp_path / ".cache" / "pmo-sync" / "azure-devops"
    assert done.stdout.strip() == str(wanted)
    assert wanted.is_dir()
    assert not (tmp_path / ".azure-devops").exists()


def test_an_admins_own_sdk_cache_setting_is_kept(tmp_path: Path) -> None:
    own = tmp_path / "ado-cache"
    done = _import_in_a_clean_process(
        tmp_path, AZURE_DEVOPS_CACHE_DIR=str(own), PMO_SYNC_CACHE_DIR=str(tmp_path / "x")
    )
    assert done.stdout.strip() == str(own)
    assert own.is_dir()
    assert not (tmp_path / "x").exists()
