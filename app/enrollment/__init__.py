"""Enrollment: applications with medical records, reviewers' decisions and entitlements."""
