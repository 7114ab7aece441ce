"""The course's exercise checks, one module per exercise; installed as
``pytest_kafka_lab.course`` (with ``reference/``, the project's own solutions), so that
``kafka-lab grade`` and ``pytest --pyargs pytest_kafka_lab.course`` grade from a wheel."""
