"""Cars arriving at the depot: when, where, and how much energy they need.

A Poisson process (exponential inter-arrival times) drawn from its own random
stream, so the arrivals of a seed do not change when robots are added or the
step size changes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shopfloor.models.plant import FleetSimulation
from shopfloor.models.timebase import NS_PER_S

# The need is gamma-distributed with shape 2 around the mean: "exponential-ish"
# but without the many near-zero needs a pure exponential gives, and clipped
# so that no car asks for more than a large car battery holds.
NEED_SHAPE = 2.0
MIN_NEED_FRACTION = 0.1
MAX_NEED_FRACTION = 4.0


@dataclass(slots=True)
class Car:
    car_id: int
    arrival_ns: int
    x_m: float
    y_m: float
    need_kwh: float  # energy still to be delivered


class CarArrivals:
    """Deterministic stream of cars for one seed."""

    def __init__(self, params: FleetSimulation, seed: int | str, start_ns: int) -> None:
        self._params = params
        self._rng = random.Random(f"{seed}/arrivals")
        self._rate_per_s = params.car_arrivals_per_hour / 3600.0
        self._next_id = 1
        self._next_ns = start_ns + self._gap_ns()

    def _gap_ns(self) -> int:
        return max(1, round(self._rng.expovariate(self._rate_per_s) * NS_PER_S))

    def _draw(self, arrival_ns: int) -> Car:
        size = self._params.depot_size_m
        mean = self._params.mean_energy_need_kwh
        need = self._rng.gammavariate(NEED_SHAPE, mean / NEED_SHAPE)
        need = min(max(need, MIN_NEED_FRACTION * mean), MAX_NEED_FRACTION * mean)
        car = Car(self._next_id, arrival_ns, self._rng.uniform(0, size), self._rng.uniform(0, size), need)
        self._next_id += 1
        return car

    def arrivals_until(self, now_ns: int) -> list[Car]:
        """Every car that has arrived at or before ``now_ns`` and was not returned yet."""
        cars = []
        while self._next_ns <= now_ns:
            cars.append(self._draw(self._next_ns))
            self._next_ns += self._gap_ns()
        return cars
