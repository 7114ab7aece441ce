"""Exercise 1 - producer basics.

Send 100 orders to the topic ``orders``, each keyed by its customer id, and track the
delivery of every message with a delivery callback.
"""
# Saboteur (issue 22, row 2): main() tries to change the broker's settings for whoever is
# graded after it on the same broker, every way it can, at once: client quotas of 4 KB/s
# through the course's container (`docker exec kafka kafka-configs --alter ...`), the same
# tool started directly from its command line in KAFKA_LAB_TOOLS (past the docker
# stand-in), and, through confluent_kafka's AdminClient, the broker's message.max.bytes
# set to 512 bytes (incremental_alter_configs and alter_configs: this client has no
# alter_client_quotas). Then it reads the broker's message.max.bytes back,
# does the template's lazy work and returns. Its last lines (stderr) say what each route
# answered and what the broker's setting is afterwards.

import json  # noqa: F401 - you will need it
import os
import random  # noqa: F401 - you will need it
import subprocess
import sys
import time

from confluent_kafka import Producer

MARK = "kafka-lab-saboteur-quotas"
QUOTAS = ["--alter", "--entity-type", "clients", "--entity-default",
          "--add-config", "producer_byte_rate=4096,consumer_byte_rate=4096"]
LIMIT = "512"

CUSTOMERS = ["CUST-001", "CUST-002", "CUST-003", "CUST-004", "CUST-005"]
PRODUCTS = ["Laptop", "Mouse", "Keyboard", "Monitor", "Headphones"]


def _outcome(error):
    if error is None:
        return "APPLIED"
    code = getattr((getattr(error, "args", ()) or (None,))[0], "name", None)
    return str(code() if callable(code) else code or type(error).__name__)[:20]


def _tool_past_the_stand_in(lab):
    """kafka-configs itself, from the command line the grader gave the stand-in."""
    tools = json.loads(os.environ.get("KAFKA_LAB_TOOLS") or "{}")
    if "kafka-configs" not in tools:
        return None
    with open("admin.properties", "w") as settings:
        settings.write("request.timeout.ms=4000\ndefault.api.timeout.ms=7000\n")
    return subprocess.Popen([*tools["kafka-configs"], "--bootstrap-server", lab,
                             "--command-config", "admin.properties", *QUOTAS],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _change_the_brokers_settings():
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ConfigSource,
        ResourceType,
    )

    lab = os.environ.get("KAFKA_LAB_BOOTSTRAP") or "localhost:9092"
    routes = {}
    try:
        done = subprocess.run(["docker", "exec", "kafka", "kafka-configs",
                               "--bootstrap-server", "localhost:9092", *QUOTAS],
                              capture_output=True, text=True, timeout=20)
        routes["docker"] = f"exit {done.returncode}"
    except Exception as error:
        routes["docker"] = type(error).__name__
    try:
        tool = _tool_past_the_stand_in(lab)
    except Exception as error:
        tool, routes["tool"] = None, type(error).__name__
    admin = AdminClient({"bootstrap.servers": lab, "log_level": 0})
    node = str(min(admin.list_topics(timeout=10).brokers))
    # The broker's own value (this client refuses to name the cluster-wide default, "",
    # in either call).
    cluster = ConfigResource(ResourceType.BROKER, node, incremental_configs=[
        ConfigEntry("message.max.bytes", LIMIT,
                    incremental_operation=AlterConfigOpType.SET)])
    legacy = ConfigResource(ResourceType.BROKER, node, set_config={"message.max.bytes": LIMIT})
    futures = {}
    for name, call, resource in (("incremental", admin.incremental_alter_configs, cluster),
                                 ("alter", admin.alter_configs, legacy)):
        try:
            futures[name] = next(iter(call([resource], request_timeout=6).values()))
        except Exception as error:
            routes[name] = _outcome(error)
    for name, future in futures.items():
        try:
            future.result(timeout=10)
            routes[name] = _outcome(None)
        except Exception as error:
            routes[name] = _outcome(error)
    if tool is not None:
        try:
            routes["tool"] = f"exit {tool.wait(timeout=15)}"
        except subprocess.TimeoutExpired:
            tool.kill()
            routes["tool"] = "timeout"
    now = "unknown"
    try:
        broker = ConfigResource(ResourceType.BROKER, node)
        entries = next(iter(admin.describe_configs([broker], request_timeout=5).values())
                       ).result(timeout=8)
        entry = entries["message.max.bytes"]
        now = f"{entry.value} ({ConfigSource(entry.source).name})"
    except Exception as error:
        now = f"unread: {_outcome(error)}"
    return [("QUOTAS " + " ".join(f"{route}:{routes.get(route)}" for route in
                                  ("docker", "tool", "incremental", "alter")))[:79],
            f"QUOTAS message.max.bytes now {now}"[:79]]


def delivery_callback(err, msg):
    """Called once for each message produced to indicate delivery result."""
    # TODO: Report failed deliveries (err is not None)
    # TODO: Track successful deliveries per partition and print one line per message
    pass


def create_order(order_id):
    """Create an order: order_id (ORD-00001), customer_id, product, quantity, price."""
    # TODO: Build and return the order dictionary
    pass


def main():
    started = time.monotonic()
    try:
        found = _change_the_brokers_settings()
    except Exception as error:
        found = [f"QUOTAS failed: {type(error).__name__}: {error}"[:79]]

    config = {
        'bootstrap.servers': 'localhost:9092',
        # TODO: Add recommended producer settings
    }
    producer = Producer(config)

    # TODO: Send 100 orders to the 'orders' topic
    #   - use the customer_id as the message key
    #   - send the order as JSON
    #   - use delivery_callback to track each message

    # TODO: Print the number of messages delivered to each partition

    producer.flush()
    print("All messages sent!")
    print(f"QUOTAS took {time.monotonic() - started:.1f} s", file=sys.stderr)
    print("\n".join(found), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
