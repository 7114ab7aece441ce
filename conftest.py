"""Settings shared by the project's own test paths (tests/, scenarios/, benchmarks/).

The plugin itself is loaded through its ``pytest11`` entry point, as for any user.
"""
