"""The ClickHouse warehouse: schema migrations, the sink from Kafka, KPI and heat queries."""
