"""softcollect ingest service: the only way in — validates, deduplicates and routes every inbound event
(Kafka, HTTP, CSV), and runs the business clock."""
