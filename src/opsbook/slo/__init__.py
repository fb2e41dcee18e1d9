"""Service level objectives: availability (exact, from the state-change log) and latency (from the
rollups) against a target over a rolling window, the error budget left and how fast it burns, multi-window
burn-rate alerts through the alert pipeline, and monthly SLA reports."""
