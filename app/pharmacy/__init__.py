"""The partner pharmacy chain: stock per store, routing by coverage and stock, orders, partner
webhooks and callbacks, and the store's delivery dashboard."""
