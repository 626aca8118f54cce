"""Running the operator: kopf settings, the shared context, and the event loop (also in a test's thread)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

import kopf

from subnet_operator import api
from subnet_operator.context import Context, OperatorConfig
from subnet_operator.handlers import build_registry
from subnet_operator.kube import Cluster, load_configuration
from subnet_operator.prometheus import Prometheus


def settings_for(config: OperatorConfig) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # kopf's bookkeeping goes into annotations under our group, so the status schema stays fully
    # structural (nothing of kopf's is pruned) and `kubectl describe` shows whose marks they are.
    settings.persistence.finalizer = api.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=api.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=api.GROUP, key="last-handled-configuration"
    )
    settings.peering.name = api.PEERING_NAME
    settings.peering.priority = config.priority
    settings.peering.standalone = config.standalone
    # The CRDs are installed before the operator starts; not scanning for new ones spares the RBAC
    # rules on CRDs and namespaces.
    settings.scanning.disabled = True
    settings.execution.executor = concurrent.futures.ThreadPoolExecutor(max_workers=config.workers)
    # Watches are restarted every few minutes so a silently dropped connection cannot stall the operator.
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    if config.webhook_port:
        # The chart owns the ValidatingWebhookConfiguration; kopf only serves it (never edits the cluster's).
        settings.admission.managed = None
        settings.admission.server = kopf.WebhookServer(
            addr=config.webhook_host,
            port=config.webhook_port,
            certfile=config.webhook_cert,
            pkeyfile=config.webhook_key,
        )
    return settings


def quiet_routine_logs() -> None:
    """One line per API request and per timer tick drowns what matters at 256 resources; DEBUG keeps them."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in ("httpx", "kopf.objects"):
            logging.getLogger(name).setLevel(logging.WARNING)


def build_context(config: OperatorConfig) -> Context:
    kube_config = load_configuration(config.kubeconfig)
    return Context(
        config=config,
        kube_config=kube_config,
        cluster=Cluster.connect(kube_config),
        prometheus=Prometheus(config.prometheus_url, config.prometheus_access) if config.prometheus_url else None,
    )


def run(
    config: OperatorConfig,
    *,
    stop_flag: asyncio.Event | threading.Event | concurrent.futures.Future | None = None,
    ready_flag: asyncio.Event | threading.Event | concurrent.futures.Future | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (main thread) or until `stop_flag` is set (any thread)."""
    quiet_routine_logs()
    ctx = build_context(config)
    server = ctx.metrics.serve(config.metrics_host, config.metrics_port) if config.metrics_port else None
    try:
        kopf.run(
            registry=build_registry(config),
            settings=settings_for(config),
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=config.liveness_endpoint,
            memo=kopf.Memo(ctx=ctx),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        ctx.close()
