"""FastAPI service: authenticated event ingest; live state and KPIs come with later issues."""
