"""Pure logic: the plant model, the data contract, register codecs, the shift
calendar and the vectorized KPI core. Nothing in this package does I/O except
``models.plant.load_plant`` reading the plant file."""
