"""docs/plant-file.md documents every key the plant model accepts."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from pydantic import BaseModel

from shopfloor.models import plant as plant_module

DOC = (Path(__file__).resolve().parents[2] / "docs" / "plant-file.md").read_text(encoding="utf-8")


def test_every_key_of_every_table_is_documented() -> None:
    # every module of the package, so a model that is not re-exported is still checked
    modules = [
        importlib.import_module(m.name) for m in pkgutil.iter_modules(plant_module.__path__, "shopfloor.models.plant.")
    ]
    models = [
        obj
        for module in modules
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module.__name__
    ]
    assert len(models) > 15
    missing = []
    for model in models:
        for name, field in model.model_fields.items():
            key = field.alias or name
            forms = (f"`{key}`", f"[{key}]", f"[[{key}]]", f".{key}]")
            if not any(form in DOC for form in forms):
                missing.append(f"{model.__name__}.{key}")
    assert not missing, f"undocumented plant-file keys: {missing}"
