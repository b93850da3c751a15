import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read from the spoke at each scrape. */
export interface SpokeState {
  readonly natsConnected: boolean;
  informerHealth(): Record<string, { synced: boolean }>;
  refusals(): readonly unknown[];
}

/** The spoke's Prometheus metrics (served on /metrics by its probe server): one per outcome. */
export class SpokeMetrics {
  readonly registry = new Registry();
  private state: SpokeState | undefined;
  /** Where the gauges are read from, at each scrape (the counters are counted as things happen). */
  observe(spoke: SpokeState): void {
    this.state = spoke;
  }

  readonly watchEvents = new Counter({
    name: 'ingressfed_spoke_watch_events_total', help: 'Changes the informers delivered, by kind and type (added or updated, deleted, relisted)',
    labelNames: ['kind', 'type'], registers: [this.registry],
  });
  readonly publishDuration = new Histogram({
    name: 'ingressfed_spoke_publish_duration_seconds', help: 'Duration of one publishing pass (the writes to the state bucket), by kind (changes, full)',
    labelNames: ['kind'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly published = new Counter({ name: 'ingressfed_spoke_published_total', help: 'Records written to the state bucket, by operation (put, delete)', labelNames: ['op'], registers: [this.registry] });
  readonly publishErrors = new Counter({ name: 'ingressfed_spoke_publish_errors_total', help: 'Writes to the state bucket that failed (retried)', registers: [this.registry] });
  readonly refused = new Counter({ name: 'ingressfed_spoke_records_refused_total', help: 'Records not published because the hub would refuse them (each new refusal counts once)', registers: [this.registry] });
  readonly refusedNow: Gauge = new Gauge({
    name: 'ingressfed_spoke_records_refused', help: 'Records withheld now because the hub would refuse them', registers: [this.registry],
    collect: () => {
      this.refusedNow.set(this.state?.refusals().length ?? 0);
    },
  });
  readonly synced: Gauge<'kind'> = new Gauge({
    name: 'ingressfed_spoke_informers_synced', help: '1 when an informer has listed its kind at least once, by kind', labelNames: ['kind'], registers: [this.registry],
    collect: () => {
      this.synced.reset();
      for (const [kind, h] of Object.entries(this.state?.informerHealth() ?? {})) this.synced.set({ kind }, h.synced ? 1 : 0);
    },
  });
  readonly natsConnected: Gauge = new Gauge({
    name: 'ingressfed_spoke_nats_connected', help: '1 while the spoke is connected to NATS', registers: [this.registry],
    collect: () => {
      this.natsConnected.set(this.state?.natsConnected ? 1 : 0);
    },
  });
}
