"""The ``shopfloor`` command: wires the packages together, holds no logic of its own."""
