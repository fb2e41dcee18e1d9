"""Capacity planning: the runbooks' capacity table, hour rollups of its values, trends and forecasts."""
