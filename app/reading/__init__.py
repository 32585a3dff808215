"""Wearable readings: ingestion, storage and the per-patient urgency view."""
