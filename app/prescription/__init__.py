"""E-prescriptions: formulary per disease, writing under the online rules, Ed25519 signatures
per doctor, hospital-pharmacist review, renewal and revocation, one declared state machine."""

import app.prescription.messages  # noqa: F401 - registers the error texts
