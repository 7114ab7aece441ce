"""A lane's broker, checked and reset between two submissions (issue 22, item 3).

A lane of ``kafka-lab grade`` keeps its broker from submission to submission. Each run's
proxy refuses the requests that change broker-wide state (``grading/wire/proxy``); this
is the second line, for whatever got past it. The lane's state is read when it grades
its first submission (``Lane.start``), and before every later submission and after
each one the broker is put back to it:

- topics that are neither the course's, Kafka's own (``__...``) nor there at the start
  are deleted (the course's topics are left to each exercise's own reset,
  ``course.reset_course``, which deletes and recreates them as the checks expect);
- consumer groups that were not there at the start are deleted, with their committed
  offsets (the course's groups too: each exercise's reset deletes them again anyway),
  after the members a killed run left in them are removed (``group_eviction``);
- dynamic broker configs, per broker and cluster-wide defaults, client quotas and ACLs
  that differ from the start are set back (removed, or given their old value).

What it changed is returned as findings, one line each: the gradebook's JSON row of the
submission keeps them (``lane_reset``), and they are logged. A reset with nothing to undo
is a few round trips to the broker (about 10 ms on a local one); undoing a stray topic,
a group, a config and a quota took 0.3 s, most of it waiting for the topic's deletion.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    ResourcePatternType,
    ResourceType,
)

from pytest_kafka_lab.grading.class_runner.admin_wire import AdminWire, Entity
from pytest_kafka_lab.grading.course import GROUPS, TOPICS
from pytest_kafka_lab.grading.group_eviction import EvictionError, evict_members
from pytest_kafka_lab.readiness import QUIET_LOGGER
from pytest_kafka_lab.topics import delete_topics
from pytest_kafka_lab.waiting import WaitTimeout, wait_for

LOG = logging.getLogger(__name__)
TIMEOUT = 10.0
GRADERS = "kafka-lab-"  # the prefix of the grader's own groups (readers, warm-up)
# None matches any name, principal and host (the stubs say str; the client takes None).
ANY: Any = None
ALL_ACLS = AclBindingFilter(ResourceType.ANY, ANY, ResourcePatternType.ANY, ANY, ANY,
                            AclOperation.ANY, AclPermissionType.ANY)

Configs = dict[str, str | None]


@dataclass(frozen=True)
class DynamicConfigs:
    """The broker configs set at run time: each broker's own, and the cluster's
    defaults (as its brokers report them)."""

    nodes: dict[str, Configs]
    defaults: Configs


@dataclass(frozen=True)
class BrokerState:
    """What of a broker a submission could leave behind for the next one."""

    topics: frozenset[str]
    groups: frozenset[str]
    configs: DynamicConfigs
    quotas: dict[Entity, dict[str, float]]
    acls: frozenset[AclBinding] | None  # None: the broker has no authorizer


def changes(start: Configs, now: Configs) -> Configs:
    """What sets ``now`` back to ``start``: each value changed or added (None: delete)."""
    changed: Configs = {name: start.get(name) for name, value in now.items()
                        if name not in start or start[name] != value}
    changed.update({name: value for name, value in start.items() if name not in now})
    return changed


def quota_changes(start: dict[str, float], now: dict[str, float]) -> dict[str, float | None]:
    undo: dict[str, float | None] = {key: start.get(key) for key, value in now.items()
                                     if start.get(key) != value}
    undo.update({key: value for key, value in start.items() if key not in now})
    return undo


class Lane:
    """One lane's broker, at ``bootstrap``: its state when first seen, and its reset."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        # Quiet: a lane's broker replaced after a submission overran leaves this client
        # calling an address that is gone, which must not fill the grader's output.
        settings: dict[str, Any] = {"bootstrap.servers": bootstrap,
                                    "client.id": GRADERS + "lane", "logger": QUIET_LOGGER}
        self.admin = AdminClient(settings)
        self.wire = AdminWire.of(bootstrap)
        self.start = self.state()
        self.found_before: list[str] = []  # by the reset before the current submission

    def state(self) -> BrokerState:
        return BrokerState(frozenset(self.admin.list_topics(timeout=TIMEOUT).topics),
                           frozenset(self.groups()), self.configs(), self.wire.client_quotas(),
                           self.acls())

    def groups(self) -> list[str]:
        listed = self.admin.list_consumer_groups(request_timeout=TIMEOUT).result(TIMEOUT)
        return [group.group_id for group in listed.valid]

    def nodes(self) -> list[str]:
        return sorted(str(node) for node in self.admin.list_topics(timeout=TIMEOUT).brokers)

    def configs(self) -> DynamicConfigs:
        resources = [ConfigResource(ResourceType.BROKER, node) for node in self.nodes()]
        nodes: dict[str, Configs] = {}
        defaults: Configs = {}
        for resource, future in self.admin.describe_configs(
                resources, request_timeout=TIMEOUT).items():
            entries = future.result(TIMEOUT).values()
            nodes[resource.name] = {entry.name: entry.value for entry in entries
                                    if entry.source == ConfigSource.DYNAMIC_BROKER_CONFIG.value}
            defaults.update({entry.name: entry.value for entry in entries if entry.source
                             == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value})
        return DynamicConfigs(nodes, defaults)

    def acls(self) -> frozenset[AclBinding] | None:
        try:
            return frozenset(self.admin.describe_acls(ALL_ACLS, request_timeout=TIMEOUT)
                             .result(TIMEOUT))
        except KafkaException as error:
            if error.args and getattr(error.args[0], "name", lambda: "")() == \
                    "SECURITY_DISABLED":
                return None
            raise

    def reset(self) -> list[str]:
        """Put the broker back to the lane's start; what was changed, one line each."""
        steps: list[Callable[[], list[str]]] = [self.reset_topics, self.reset_groups,
                                                self.reset_configs, self.reset_quotas,
                                                self.reset_acls]
        findings: list[str] = []
        for step in steps:
            try:
                findings += step()
            except Exception as error:  # one step failing leaves the others to do their part
                LOG.warning("lane reset on %s: %s failed", self.bootstrap, step.__name__,
                            exc_info=True)
                findings.append(f"{step.__name__} failed: {error!r}")
        return findings

    def reset_topics(self) -> list[str]:
        listed = self.admin.list_topics(timeout=TIMEOUT).topics
        stray = sorted(name for name in listed if name not in self.start.topics
                       and name not in TOPICS and not name.startswith("__"))
        delete_topics(self.admin, stray)
        return [f"deleted topic {name!r}, not the course's" for name in stray]

    def reset_groups(self) -> list[str]:
        stray = sorted(set(self.groups()) - self.start.groups)
        if not stray:
            return []
        findings = self.evict(stray)
        for group, future in self.admin.delete_consumer_groups(
                stray, request_timeout=TIMEOUT).items():
            try:
                future.result(TIMEOUT)
            except KafkaException as error:  # still has members, or gone already
                findings.append(f"could not delete group {group!r}: {error.args[0].str()}")
                continue
            if group not in GROUPS and not group.startswith(GRADERS):
                findings.append(f"deleted group {group!r} and its offsets, not the course's")
        return findings

    def evict(self, groups: list[str]) -> list[str]:
        """Members a killed run left in ``groups`` removed, so that they can be deleted now
        rather than once their sessions time out."""
        try:
            evicted = evict_members(self.admin, groups, TIMEOUT)
        except (EvictionError, OSError, KafkaException) as error:
            return [f"could not remove the members left in {groups}: {error}"]
        return [f"removed {len(ids)} member(s) left in group {group!r}"
                for group, ids in evicted.items()]

    def reset_configs(self) -> list[str]:
        """Undo what differs from the start until DescribeConfigs reads as at the start: a
        change is seen once the broker applied it, and a value set back can uncover
        another level's (a broker's own value over the cluster-wide default)."""
        findings: list[str] = []

        def settled() -> bool:
            undone = self.undo_config_changes()
            findings.extend(finding for finding in undone if finding not in findings)
            return not undone

        try:
            wait_for(settled, TIMEOUT, "the brokers' dynamic configs to read as at the "
                     "lane's start", seen=lambda: findings[-3:])
        except WaitTimeout as error:
            findings.append(f"could not set the brokers' configs back: {error}")
        return findings

    def undo_config_changes(self) -> list[str]:
        """Set back each dynamic config that differs from the start, per broker and the
        cluster-wide defaults; one finding per value set back."""
        now = self.configs()
        nodes = {node: undo for node, configs in now.nodes.items()
                 if (undo := changes(self.start.configs.nodes.get(node, {}), configs))}
        defaults = changes(self.start.configs.defaults, now.defaults)
        for node, undo in nodes.items():
            self.alter_node(node, undo)
        if defaults:
            self.wire.alter_default_broker_configs(defaults)
        return [f"broker {node}: {said(name, value)}" for node, undo in nodes.items()
                for name, value in undo.items()] + \
            [f"cluster default: {said(name, value)}" for name, value in defaults.items()]

    def alter_node(self, node: str, undo: Configs) -> None:
        entries = [ConfigEntry(name, value, incremental_operation=AlterConfigOpType.DELETE
                               if value is None else AlterConfigOpType.SET)
                   for name, value in undo.items()]
        resource = ConfigResource(ResourceType.BROKER, node, incremental_configs=entries)
        for future in self.admin.incremental_alter_configs(
                [resource], request_timeout=TIMEOUT).values():
            future.result(TIMEOUT)

    def reset_quotas(self) -> list[str]:
        now = self.wire.client_quotas()
        undo = {entity: change for entity in {*now, *self.start.quotas}
                if (change := quota_changes(self.start.quotas.get(entity, {}),
                                            now.get(entity, {})))}
        if undo:
            self.wire.alter_client_quotas(undo)
        return [f"client quota {entity_name(entity)}: {said(key, value)}"
                for entity, change in undo.items() for key, value in change.items()]

    def reset_acls(self) -> list[str]:
        if self.start.acls is None:
            return []
        now = self.acls() or frozenset()
        stray = sorted(now - self.start.acls, key=str)
        missing = sorted(self.start.acls - now, key=str)
        if stray:
            filters = [AclBindingFilter(acl.restype, acl.name, acl.resource_pattern_type,
                                        acl.principal, acl.host, acl.operation,
                                        acl.permission_type) for acl in stray]
            for future in self.admin.delete_acls(filters, request_timeout=TIMEOUT).values():
                future.result(TIMEOUT)
        if missing:
            for future in self.admin.create_acls(missing, request_timeout=TIMEOUT).values():
                future.result(TIMEOUT)
        return [f"deleted ACL {acl}" for acl in stray] + [f"restored ACL {acl}" for acl in missing]


def said(name: str, value: Any) -> str:
    return f"{name} removed" if value is None else f"{name} set back to {value}"


def entity_name(entity: Entity) -> str:
    return ",".join(f"{kind}={'<default>' if name is None else name}" for kind, name in entity)


class Lanes:
    """The lanes of one grading of a class, by broker address: each one's start read the
    first time it grades."""

    def __init__(self) -> None:
        self._lanes: dict[str, Lane] = {}
        self._lock = threading.Lock()

    def before(self, bootstrap: str | None) -> Lane | None:
        """The lane of ``bootstrap`` before a submission: its start read now if it is new,
        else reset (what changed since its last reset: ``Lane.found_before``). None for a
        run with brokers of its own, or (logged) where the broker cannot be read."""
        if bootstrap is None:
            return None
        with self._lock:
            lane = self._lanes.get(bootstrap)
            if lane is None:
                return self._new(bootstrap)
        lane.found_before = timed_reset(lane, "before a submission")
        return lane

    def _new(self, bootstrap: str) -> Lane | None:
        try:
            lane = self._lanes[bootstrap] = Lane(bootstrap)
        except Exception:
            LOG.warning("lane reset: the broker at %s cannot be read; its lane is not "
                        "reset between submissions", bootstrap, exc_info=True)
            return None
        return lane


def timed_reset(lane: Lane, when: str) -> list[str]:
    """``lane.reset()``, logged with its duration and findings."""
    started = time.monotonic()
    findings = lane.reset()
    LOG.log(logging.WARNING if findings else logging.INFO, "lane reset on %s %s: %.3f s, %s",
            lane.bootstrap, when, time.monotonic() - started,
            "; ".join(findings) or "nothing to undo")
    return findings


def reset_after(lane: Lane | None, grade: dict[str, Any]) -> None:
    """Reset ``lane`` after the submission of ``grade``. What the resets before and after
    it found goes into the grade (``lane_reset``: changed before it started, by nobody
    it could be, then after it, by its runs or while they ran) and the log."""
    if lane is None:
        return
    findings = [f"before: {line}" for line in lane.found_before]
    findings += [f"after: {line}" for line in
                 timed_reset(lane, f"after {grade.get('name') or 'a submission'}")]
    lane.found_before = []
    if findings:
        grade["lane_reset"] = findings
