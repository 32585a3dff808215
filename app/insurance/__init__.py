"""Insurance settlement: benefit rules, pre-settlement, settlement, reversal, statements (posting
to app.ledger)."""
