"""Plant files shipped with the project (data, loaded with importlib.resources)."""
