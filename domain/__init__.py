"""The functional core: plain rules, no Kafka, Faust or FastAPI."""
