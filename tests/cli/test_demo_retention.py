"""The demo keeps a week of raw samples; a plant keeps its own (90 days unless its file says otherwise)."""

from __future__ import annotations

from shopfloor.cli.demo import DEMO_RAW_RETENTION_DAYS, with_demo_retention
from shopfloor.models.plant import load_plant


def test_the_demo_keeps_a_week_of_raw_samples_and_changes_nothing_else() -> None:
    plant = load_plant()
    assert plant.storage.raw_retention_days == 90
    demo = with_demo_retention(plant)
    assert DEMO_RAW_RETENTION_DAYS == 7 and demo.storage.raw_retention_days == 7
    assert demo.model_copy(update={"storage": plant.storage}) == plant
    assert plant.storage.raw_retention_days == 90  # the loaded plant is not changed


def test_a_shorter_retention_in_the_plant_file_stays() -> None:
    plant = load_plant()
    short = plant.model_copy(update={"storage": plant.storage.model_copy(update={"raw_retention_days": 3})})
    assert with_demo_retention(short).storage.raw_retention_days == 3
