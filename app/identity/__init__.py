"""Insured identity: the patient's declaration, the verified record, and their comparison."""
