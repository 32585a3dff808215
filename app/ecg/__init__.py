"""Single-lead ECG strips from wearables: upload, analysis, alerts, strip charts, FHIR export."""
