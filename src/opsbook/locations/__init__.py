"""Probes from several locations: a check run from each of its locations, down when a quorum agrees."""
