# Loaded by Python at start-up in a graded submission's process (the harness puts this
# folder on PYTHONPATH): watches for attempts to leave the run's folder, and instruments
# confluent_kafka before the submission imports it.
from pytest_kafka_lab.grading.boundary import watch
from pytest_kafka_lab.grading.instrument import install

watch()
install()
