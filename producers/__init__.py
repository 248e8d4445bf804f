"""Kiosk SDK with a durable local outbox, and the network simulator (issue: event capture).

Nothing here yet; see the open issue.
"""
