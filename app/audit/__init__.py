"""The audit trail of access to patients' health data."""
