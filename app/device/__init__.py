"""Wearable devices: binding CGMs, BP monitors, ECG patches and meters; CGM sensor sessions."""
