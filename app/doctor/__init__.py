"""Doctors: profiles, weekly working hours, live presence and load counters."""
