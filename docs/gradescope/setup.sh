#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image, with the
# autograder's zip unpacked in /autograder/source. It is given no environment variables:
# what it installs is chosen here.
# Base image: Ubuntu 24.04 (its python3 is 3.12; pytest-kafka-lab needs 3.11 or newer).
# AUTOGRADER_ROOT and KAFKA_LAB_VENV exist so the recipe can be tried outside Gradescope.
set -euo pipefail

source_dir="${AUTOGRADER_ROOT:-/autograder}/source"
venv="${KAFKA_LAB_VENV:-/opt/kafka-lab}"
# What pip installs (one version keeps a term's grades comparable). The default: the wheel
# shipped in the autograder's zip beside this script (built from pytest-kafka-lab's
# checkout with `pip wheel --no-deps -w . .`). Or a git URL,
# "git+https://github.com/OWNER/pytest-kafka-lab@v0.1.0" (then add git to the packages
# below), or, once it is published on PyPI, "pytest-kafka-lab==0.1.0".
KAFKA_LAB_PACKAGE="${KAFKA_LAB_PACKAGE:-$source_dir/pytest_kafka_lab-0.1.0-py3-none-any.whl}"

# Java 17, Maven and Python's venv, from Ubuntu, where the image lacks them.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null \
        || ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends \
        openjdk-17-jre-headless maven python3 python3-venv python3-pip
fi

python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install "$KAFKA_LAB_PACKAGE"
# Kafka's jars go into the image now, so that grading a submission needs no network.
"$venv/bin/kafka-lab" fetch
