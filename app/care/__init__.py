"""Care: relationships (who may see a patient), family-doctor teams, follow-ups, referrals."""
