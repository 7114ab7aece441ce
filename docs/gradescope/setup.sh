#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image.
# Base image: Ubuntu 24.04 (its python3 is 3.12; pytest-kafka-lab needs 3.11 or newer).
set -euo pipefail

apt-get update
apt-get install -y --no-install-recommends \
    openjdk-17-jre-headless maven python3 python3-venv python3-pip

python3 -m venv /opt/kafka-lab
/opt/kafka-lab/bin/pip install --upgrade pip
# A pinned version ("pytest-kafka-lab==0.1.0") keeps a term's grades comparable.
/opt/kafka-lab/bin/pip install "${KAFKA_LAB_PACKAGE:-pytest-kafka-lab}"
# Kafka's jars go into the image now, so that grading a submission needs no network.
/opt/kafka-lab/bin/kafka-lab fetch
