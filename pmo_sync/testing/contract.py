"""The connector contract suite as a pytest test class, for any connector, built-in or plug-in.

    from pmo_sync.testing import ContractCase, connector_contract_tests

    @contextmanager
    def my_tracker(tmp_path, monkeypatch):
        with MySandbox() as sandbox:           # a live tracker of the connector's kind
            yield ContractCase(
                connector=lambda: MyConnector(MyConfig(name="contract", url=sandbox.url)),
                edit_item=sandbox.edit_one,     # each returns the external id it touched
                create_item=sandbox.create_one,
                delete_item=sandbox.delete_one,
            )

    TestMyConnector = connector_contract_tests(my_tracker)

`connector_contract_tests(case)` returns a class whose tests each get a fresh `case` (built
with pytest's `tmp_path` and `monkeypatch`) and, for the tests that sync, an empty SQLite
store in `tmp_path`. To run those against another store, subclass and override the
`contract_engine` fixture (pmo-sync's own tests give it SQLite and PostgreSQL).

The checks are `pmo_sync.testing.checks`; this module needs pytest (the `testing` extra).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_sync.domain import ItemBundle, SprintRecord, StatusRecord
from pmo_sync.store.engine import make_engine
from pmo_sync.testing import checks
from pmo_sync.testing.checks import ContractCase

__all__ = ["CaseFactory", "connector_contract_tests"]

CaseFactory = Callable[[Path, pytest.MonkeyPatch], AbstractContextManager[ContractCase]]
"""Sets up a live tracker (given a temporary folder and pytest's monkeypatch) and yields the
`ContractCase` for it until the block ends."""


def connector_contract_tests(
    case: CaseFactory,
    *,
    yields: Collection[type] = (ItemBundle, SprintRecord, StatusRecord),
) -> type:
    """A pytest test class running every contract check against the tracker `case` sets up.

    `yields`: the record types a full read of that tracker must produce (a tracker without
    sprints passes `(ItemBundle, StatusRecord)`). Bind the class to a module-level name
    starting with `Test` so pytest collects it.
    """
    required = tuple(yields)

    class ConnectorContractTests:
        @pytest.fixture
        def contract_case(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
        ) -> Iterator[ContractCase]:
            folder = tmp_path / "tracker"
            folder.mkdir()
            with case(folder, monkeypatch) as built:
                yield built

        @pytest.fixture
        def contract_engine(self, tmp_path: Path) -> Iterator[Engine]:
            """An empty store; the checks migrate it. Override to use another database."""
            engine = make_engine(f"sqlite:///{tmp_path / 'store' / 'pmo.db'}")
            yield engine
            engine.dispose()

        def test_kind_is_registered_through_the_entry_point(
            self, contract_case: ContractCase
        ) -> None:
            checks.check_kind_is_registered(contract_case)

        def test_check_passes_against_the_tracker(self, contract_case: ContractCase) -> None:
            checks.check_check_passes(contract_case)

        def test_streams_declare_themselves_and_resume_from_json_bookmarks(
            self, contract_case: ContractCase
        ) -> None:
            checks.check_streams(contract_case, yields=required)

        def test_full_then_incremental_sync_into_a_store(
            self, contract_case: ContractCase, contract_engine: Engine
        ) -> None:
            checks.check_sync_then_incremental(contract_case, contract_engine)

        def test_changes_resume_from_the_bookmark(
            self, contract_case: ContractCase, contract_engine: Engine
        ) -> None:
            checks.check_changes_resume_from_the_bookmark(contract_case, contract_engine)

        def test_a_deleted_item_is_marked_deleted(
            self, contract_case: ContractCase, contract_engine: Engine
        ) -> None:
            checks.check_a_deleted_item_is_marked_deleted(contract_case, contract_engine)

        def test_a_census_owed_is_paid(
            self, contract_case: ContractCase, contract_engine: Engine
        ) -> None:
            checks.check_a_census_owed_is_paid(contract_case, contract_engine)

        def test_writeback(self, contract_case: ContractCase, contract_engine: Engine) -> None:
            checks.check_writeback(contract_case, contract_engine)

    return ConnectorContractTests
