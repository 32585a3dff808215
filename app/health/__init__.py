"""Liveness, readiness and metrics for the engineer on call."""
