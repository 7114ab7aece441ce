"""Inner run: a test that fails while the broker runs."""


def test_fails(recorded_jvm):
    raise AssertionError("deliberately failing with the broker up")
