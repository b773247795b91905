"""Opening a store on a full disk or a damaged file: a StoreError whose one line names the file, what is wrong
and what to do - the line the commands print before exiting with code 2 (tests/cli/test_store_start_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopfloor.models.plant import Plant, load_plant
from shopfloor.store import StoreError
from shopfloor.store.annotations import AnnotationStore
from shopfloor.store.duckdb_store import DuckDBStore
from tests.fixtures.damaged import DAMAGES, damaged_copy, history_file
from tests.fixtures.tmpfs import fill


@pytest.fixture(scope="module")
def plant() -> Plant:
    return load_plant()


@pytest.fixture(scope="module")
def good_file(plant: Plant, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return history_file(plant, tmp_path_factory.mktemp("good") / "shopfloor.duckdb")


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_file_is_named_with_what_to_do(plant: Plant, good_file: Path, tmp_path: Path, damage: str) -> None:
    path = damaged_copy(good_file, tmp_path / "shopfloor.duckdb", damage)
    with pytest.raises(StoreError) as raised:
        DuckDBStore(path, plant.plant.id)
    message = str(raised.value)
    assert message.startswith(f"DuckDB file {path} is damaged (")
    assert "restore it from a backup, or move it (with its .wal, if any) aside to start a new one" in message
    assert "one process" not in message and "\n" not in message
    assert path.stat().st_size > 0  # the file is the person's to restore or move: never deleted


def test_a_full_disk_at_start_says_so_for_an_existing_file(plant: Plant, tiny_fs: Path) -> None:
    path = tiny_fs / "shopfloor.duckdb"
    DuckDBStore(path, plant.plant.id).close()
    fill(tiny_fs)
    with pytest.raises(StoreError) as raised:
        DuckDBStore(path, plant.plant.id)
    message = str(raised.value)
    assert message.startswith(f"no space left on device: cannot write DuckDB file {path} (")
    assert message.endswith(
        "free space on that disk (or point [storage.embedded] path / --data-dir at another one), then start again"
    )


def test_a_full_disk_at_start_leaves_no_half_made_file(plant: Plant, tiny_fs: Path) -> None:
    fill(tiny_fs)
    path = tiny_fs / "new.duckdb"
    with pytest.raises(StoreError, match=r"^no space left on device: cannot write DuckDB file"):
        DuckDBStore(path, plant.plant.id)
    assert not path.exists()  # it would read as damaged on the next start


def test_annotations_on_a_full_disk_or_damaged(tiny_fs: Path, tmp_path: Path) -> None:
    fill(tiny_fs)
    with pytest.raises(StoreError, match=r"^no space left on device: cannot write annotations file"):
        AnnotationStore(tiny_fs / "annotations.sqlite3")
    damaged = tmp_path / "annotations.sqlite3"
    damaged.write_bytes(b"not a database" * 1000)
    with pytest.raises(StoreError, match=f"^annotations file {damaged} is damaged .*restore it from a backup"):
        AnnotationStore(damaged)
