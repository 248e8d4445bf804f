"""Grafana dashboards as code and provisioning (issue: dashboards).

Nothing here yet; see the open issue.
"""
