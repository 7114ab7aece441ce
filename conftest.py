"""Settings shared by the project's own test paths (tests/, scenarios/, benchmarks/).

The plugin itself is loaded through its ``pytest11`` entry point, as for any user.
"""

# The grading options and report (--lab-submission, --lab-report) serve scenarios/.
pytest_plugins = ["pytest_kafka_lab.grading.plugin"]
