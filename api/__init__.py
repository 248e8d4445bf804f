"""FastAPI service: ingest, live state, KPIs, history (issues: capture, live, warehouse).

Nothing here yet; see the open issue.
"""
