"""Notifications to people: WeChat subscription messages with their grants, and SMS."""
