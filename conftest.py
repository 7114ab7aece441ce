"""Settings shared by the project's own test paths (tests/, scenarios/, benchmarks/).

The plugin itself is loaded through its ``pytest11`` entry point, as for any user.
"""

from pytest_kafka_lab.hypothesis_profiles import load_profile

# "ci" where $CI is set, "dev" elsewhere; $KAFKA_LAB_HYPOTHESIS_PROFILE or
# --kafka-hypothesis-profile choose another.
load_profile()

# The grading options and report (--lab-submission, --lab-report) serve scenarios/.
pytest_plugins = ["pytest_kafka_lab.grading.plugin"]
