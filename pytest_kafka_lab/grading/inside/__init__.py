"""What runs inside a student's process, and nothing else: the start-up hook
(``startup``), the observed confluent-kafka clients (``instrument``), the call of one
exercise function (``runner``), the grader's drivers (``ex1_driver``, ``ex4_driver``),
the audit hook (``boundary``), the ``docker`` stand-in (``docker_shim``) and the init of
a run's PID namespace (``supervisor``, run as a script with ``python -I -S``).

Everything here is copied into a run's own library folder and imported from there as
its own top-level package: a run reads none of the grader's package (the course's checks
and reference solutions among it). Hence the rules of this folder: the standard library
and relative imports only, and no verdict: anything that runs in the submission's process
the submission can read, patch or forge, so what these modules report is evidence to be
checked against the wire and the broker, never a grade.
"""
