# The two commands of the README. Both install what they need on a fresh machine.
.PHONY: demo test stack-down lint schemas

demo:            ## local stack (Kafka, services) + the demo portfolio played through it
	deploy/bootstrap.sh
	.venv/bin/softcollect demo

test:            ## the whole suite on a real Kafka broker and a real PostgreSQL
	deploy/test.sh

stack-down:
	.venv/bin/softcollect stack down

lint:
	.venv/bin/ruff check .

schemas:         ## regenerate libs/events/schemas and asyncapi.yaml after changing a model
	.venv/bin/python -m softcollect_events.generate
