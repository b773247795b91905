"""One router per resource; ROUTERS is the order the app includes them."""

from shopfloor.api.routes import (
    alerts,
    board,
    display,
    health,
    kpis,
    live,
    operator,
    orders,
    plant,
    reports,
    status,
    teams,
    tracking,
    year_to_date,
)

ROUTERS = [
    health.router,
    plant.router,
    status.router,
    kpis.router,
    teams.router,
    reports.router,
    operator.router,
    orders.router,
    orders.page,
    live.router,
    display.router,
    display.api,
    board.router,
    board.page,
    tracking.router,
    tracking.page,
    year_to_date.router,
    alerts.router,
]
