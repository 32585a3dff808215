"""The append-only, double-entry ledger in fen, below insurance and payment (imports neither):
accounts and balanced postings (posting), and its SQL (repository)."""
