"""Faust app: live projections and alerts (issue: live situational awareness).

Nothing here yet; see the open issue.
"""
