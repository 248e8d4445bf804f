"""ClickHouse schema, warehouse sink, KPI and heat queries (issue: warehouse).

Nothing here yet; see the open issue.
"""
