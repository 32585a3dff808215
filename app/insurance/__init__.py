"""Insurance settlement: benefit rules, pre-settlement, settlement, reversal, ledger, statements."""
