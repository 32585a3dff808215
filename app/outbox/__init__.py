"""Durable side effects: outbox rows written in the business transaction, relayed after commit."""
