"""Nightscout-compatible upload: off-the-shelf CGM uploaders feed a patient's account."""
