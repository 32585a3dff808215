"""E-prescriptions: formulary per disease, writing under the online rules, Ed25519 signatures
per doctor, hospital-pharmacist review, renewal and revocation, one declared state machine."""
