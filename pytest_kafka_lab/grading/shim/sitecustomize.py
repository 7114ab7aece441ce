# Loaded by Python at start-up in a graded submission's process (the harness puts this
# folder on PYTHONPATH): instruments confluent_kafka before the submission imports it.
from pytest_kafka_lab.grading.instrument import install

install()
