"""Patients' own profile and the patient records their doctors see."""
