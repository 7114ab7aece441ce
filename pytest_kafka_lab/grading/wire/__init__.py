"""The wire as witness: what crosses the network between a student's Kafka clients and the
broker, recorded by the grader from outside the student's process.

``proxy.WireProxy`` forwards every byte unchanged and keeps, decoded, what each client
asked and what the broker answered (``proxy.WireLog``); ``protocol`` decodes Kafka's
request and response frames and ``records`` the record batches inside them.
"""
