import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The hub's Prometheus metrics: one per outcome, labelled by what they concern. */
export class HubMetrics {
  readonly registry = new Registry();
  private certificates: () => Array<{ cluster: string; namespace: string; name: string; notAfter: number | null }> = () => [];
  readonly certificateExpiry = new Gauge({
    name: 'ingressfed_certificate_expiry_seconds', help: 'Seconds until each published TLS certificate expires (negative: expired)', labelNames: ['cluster', 'namespace', 'secret'], registers: [this.registry],
    collect: () => {
      this.certificateExpiry.reset();
      const now = Date.now();
      for (const c of this.certificates()) {
        if (c.notAfter !== null) this.certificateExpiry.set({ cluster: c.cluster, namespace: c.namespace, secret: c.name }, Math.round((c.notAfter - now) / 1000));
      }
    },
  });
  /** Where the certificate expiry gauge reads the certificates from, at each scrape. */
  certificatesFrom(source: () => Array<{ cluster: string; namespace: string; name: string; notAfter: number | null }>): void {
    this.certificates = source;
  }

  readonly tlsRefused = new Gauge({ name: 'ingressfed_tls_refused_hosts', help: 'Hosts of Ingress TLS entries that get no certificate from them (GET /api/v1/certificates says why), by cluster of the Ingress', labelNames: ['cluster'], registers: [this.registry] });
  readonly clusters = new Gauge({ name: 'ingressfed_clusters', help: 'Clusters by state (live, source-unavailable, stale, expired)', labelNames: ['state'], registers: [this.registry] });
  readonly routes = new Gauge({ name: 'ingressfed_routes', help: 'Routes in the federated model', registers: [this.registry] });
  readonly conflicts = new Gauge({ name: 'ingressfed_conflicts', help: 'Route conflicts between Ingresses', registers: [this.registry] });
  readonly ingresses = new Gauge({ name: 'ingressfed_ingresses', help: 'Ingresses by verdict', labelNames: ['state'], registers: [this.registry] });
  readonly quarantined = new Gauge({ name: 'ingressfed_quarantined_records', help: 'Records whose change HAProxy refused, planned at their last good version', registers: [this.registry] });
  readonly outOfSync = new Gauge({ name: 'ingressfed_clusters_out_of_sync', help: 'Clusters whose keys in the state bucket differ from what their spoke published (heartbeat digest)', registers: [this.registry] });
  readonly refusedEndpoints = new Gauge({ name: 'ingressfed_refused_endpoints', help: 'Endpoints the endpoint policy refused (loopback, link-local, an edge…), by cluster', labelNames: ['cluster'], registers: [this.registry] });
  readonly refused = new Gauge({ name: 'ingressfed_refused_records', help: 'State bucket entries refused (validation, unknown cluster, older than the accepted record)', registers: [this.registry] });
  readonly applies = new Counter({ name: 'ingressfed_applies_total', help: 'Edge applies by kind (transaction, runtime, none) and result (ok, error, refused)', labelNames: ['edge', 'kind', 'result'], registers: [this.registry] });
  readonly applyDuration = new Histogram({
    name: 'ingressfed_apply_duration_seconds', help: 'Duration of an edge apply by kind', labelNames: ['edge', 'kind'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly reloads = new Counter({ name: 'ingressfed_reloads_total', help: 'HAProxy reloads caused by committed transactions', labelNames: ['edge'], registers: [this.registry] });
  readonly reloadFailures = new Counter({ name: 'ingressfed_reload_failures_total', help: 'Committed configurations HAProxy failed to load (the edge kept its last good one)', labelNames: ['edge'], registers: [this.registry] });
  readonly reclaimedTransactions = new Counter({ name: 'ingressfed_transactions_reclaimed_total', help: 'Abandoned transactions deleted (left open by an earlier writer, or to get under the open-transaction limit)', labelNames: ['edge'], registers: [this.registry] });
  readonly edgeErrors = new Counter({ name: 'ingressfed_edge_errors_total', help: 'Failed edge applies', labelNames: ['edge'], registers: [this.registry] });
  readonly mergeDrift = new Counter({ name: 'ingressfed_merge_drift_total', help: 'Full recomputes that changed the model although no record changed (an incremental merge bug, repaired)', registers: [this.registry] });
  readonly edgeDrift = new Counter({ name: 'ingressfed_edge_drift_total', help: 'Slots and routing maps found different from what the hub set (then repaired)', labelNames: ['edge'], registers: [this.registry] });
  readonly propagation = new Histogram({
    name: 'ingressfed_propagation_seconds', help: 'From a spoke observing a change to an edge having applied it (spoke and hub clocks)',
    labelNames: ['edge'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry],
  });
  readonly leader = new Gauge({ name: 'ingressfed_leader', help: '1 while this hub holds the leader lease', registers: [this.registry] });
  readonly leaderLost = new Counter({ name: 'ingressfed_leader_lost_total', help: 'Times this hub lost the leader lease it held', registers: [this.registry] });
  readonly auditRepairs = new Counter({ name: 'ingressfed_audit_repairs_total', help: 'Records held for keys the state bucket no longer has, found by the periodic key audit (a change the watch did not deliver)', registers: [this.registry] });
  readonly fenceRaised = new Counter({ name: 'ingressfed_fence_raised_total', help: 'Times this leader found an edge fenced above its own while it held the lease (the fence counter was lost) and raised its fence past it', registers: [this.registry] });
  readonly merge = new Histogram({
    name: 'ingressfed_merge_seconds', help: 'Time to bring the model up to date after record changes (incremental merge)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry],
  });
  readonly plan = new Histogram({
    name: 'ingressfed_plan_seconds', help: 'Time to plan an edge and compare it with the edge (per apply)', labelNames: ['edge'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry],
  });
  private readonly loop = monitorEventLoopDelay({ resolution: 10 });
  readonly loopDelay = new Gauge({
    name: 'ingressfed_event_loop_delay_seconds', help: 'Event loop delay since the hub started its work: p99 and max', labelNames: ['quantile'], registers: [this.registry],
    collect: () => {
      this.loopDelay.set({ quantile: 'p99' }, this.loop.percentile(99) / 1e9);
      this.loopDelay.set({ quantile: 'max' }, this.loop.max / 1e9);
    },
  });

  readonly memory = new Gauge({
    name: 'ingressfed_memory_bytes', help: 'Memory of the hub process: resident, heap used, heap total', labelNames: ['kind'], registers: [this.registry],
    collect: () => {
      const m = process.memoryUsage();
      this.memory.set({ kind: 'resident' }, m.rss);
      this.memory.set({ kind: 'heap_used' }, m.heapUsed);
      this.memory.set({ kind: 'heap_total' }, m.heapTotal);
    },
  });

  /** Starts sampling the event loop (when the hub starts its work: loading and compiling code before does not count). */
  start(): void {
    this.loop.enable();
  }

  /** Stops sampling the event loop. */
  close(): void {
    this.loop.disable();
  }
}
