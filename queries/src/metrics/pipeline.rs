//! The pipeline's metrics, read at scrape time from its counters, catalog and health.
//!
//! * `tributary_events_{received,accepted,dead_lettered,late}_total{stream, source}`;
//! * `tributary_source_connected{stream, source}` (1/0; absent for sources without a
//!   connection) and `tributary_source_lag_records{stream, source}` (when reported);
//! * `tributary_projection_frontier{projection}` — the epoch every worker has handed over;
//! * `tributary_projection_frontier_delay_seconds{projection}` — wall-clock age of that
//!   frontier: how old the freshest data a query can see is;
//! * `tributary_projection_epochs_behind{projection}` — epochs opened but not yet through
//!   the projection (processing lag);
//! * `tributary_committed_frontier`, `tributary_ready`, `tributary_recovering`;
//! * `tributary_action_deliveries_total{outcome}` (`delivered`, `dead_lettered`, and of those
//!   `refused` without an attempt), `tributary_action_delivery_attempts_total`,
//!   `tributary_action_queue_depth` (waiting in a sink's queue) and
//!   `tributary_action_in_flight`, from the pipeline's `DeliveryLog`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tributary_engine::delivery::DeliveryLog;
use tributary_engine::runtime::{CounterRegistry, PipelineHealth};
use tributary_engine::source::{Connectivity, CounterSnapshot};
use tributary_engine::{Epoch, LiveCatalog, RunningPipeline};

type Labels = Vec<(&'static str, String)>;

/// Reads a running pipeline's state at every scrape (see the module docs).
#[derive(Debug, Clone)]
pub struct PipelineCollector {
    counters: Arc<CounterRegistry>,
    catalog: Arc<LiveCatalog>,
    health: Arc<PipelineHealth>,
    deliveries: Arc<DeliveryLog>,
}

impl PipelineCollector {
    /// The collector of `pipeline`.
    pub fn for_pipeline(pipeline: &RunningPipeline) -> Self {
        Self {
            counters: pipeline.counters(),
            catalog: pipeline.catalog(),
            health: pipeline.health(),
            deliveries: pipeline.deliveries(),
        }
    }

    /// A collector over explicit parts (tests, tools).
    pub fn new(counters: Arc<CounterRegistry>, catalog: Arc<LiveCatalog>, health: Arc<PipelineHealth>) -> Self {
        Self {
            counters,
            catalog,
            health,
            deliveries: Arc::new(DeliveryLog::default()),
        }
    }

    /// The same collector reading action deliveries from `deliveries`.
    pub fn with_deliveries(self, deliveries: Arc<DeliveryLog>) -> Self {
        Self { deliveries, ..self }
    }
}

impl Collector for PipelineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let sources = self.health.sources().snapshot();
        let source_of: BTreeMap<&str, &str> = sources.iter().map(|s| (s.stream.as_str(), s.source.as_str())).collect();
        let streams: Vec<(Labels, CounterSnapshot)> = self
            .counters
            .snapshot()
            .into_iter()
            .map(|(stream, counts)| {
                let source = source_of.get(stream.as_str()).copied().unwrap_or("http").to_string();
                (vec![("stream", stream), ("source", source)], counts)
            })
            .collect();
        let counter = |pick: fn(&CounterSnapshot) -> u64| -> Vec<(Labels, u64)> {
            streams.iter().map(|(l, c)| (l.clone(), pick(c))).collect()
        };
        counters(
            &mut encoder,
            "tributary_events_received",
            "Records read from the source",
            counter(|c| c.received),
        )?;
        counters(
            &mut encoder,
            "tributary_events_accepted",
            "Records that entered the dataflow",
            counter(|c| c.accepted),
        )?;
        counters(
            &mut encoder,
            "tributary_events_dead_lettered",
            "Records sent to the dead-letter queue",
            counter(|c| c.dead_lettered),
        )?;
        counters(
            &mut encoder,
            "tributary_events_late",
            "Accepted records later dead-lettered as late",
            counter(|c| c.late),
        )?;

        let source_labels = |s: &tributary_engine::source::SourceHealth| -> Labels {
            vec![("stream", s.stream.clone()), ("source", s.source.clone())]
        };
        gauges(
            &mut encoder,
            "tributary_source_connected",
            "1 if the source's readers are connected, 0 if one is not",
            sources
                .iter()
                .filter(|s| s.connectivity != Connectivity::Unknown)
                .map(|s| (source_labels(s), i64::from(s.connectivity == Connectivity::Connected))),
        )?;
        gauges(
            &mut encoder,
            "tributary_source_lag_records",
            "Records the source's readers are behind (e.g. Kafka consumer lag)",
            sources.iter().filter_map(|s| {
                s.lag
                    .map(|lag| (source_labels(s), i64::try_from(lag).unwrap_or(i64::MAX)))
            }),
        )?;

        let frontiers = self.catalog.projection_frontiers();
        let open = |f: &Epoch| *f != Epoch::MAX;
        gauges(
            &mut encoder,
            "tributary_projection_frontier",
            "The epoch every worker has handed over for the projection",
            frontiers
                .iter()
                .filter(|(_, f)| open(f))
                .map(|(p, f)| (vec![("projection", p.clone())], i64::try_from(*f).unwrap_or(i64::MAX))),
        )?;
        float_gauges(
            &mut encoder,
            "tributary_projection_frontier_delay_seconds",
            "Wall-clock age of the projection's frontier: how old the freshest visible data is",
            frontiers.iter().filter_map(|(p, f)| {
                let age_ms = self.health.frontier_age_ms(*f)?;
                // Ages are far below 2^53 ms.
                #[allow(clippy::cast_precision_loss)]
                let seconds = age_ms as f64 / 1000.0;
                Some((vec![("projection", p.clone())], seconds))
            }),
        )?;
        let current = self.health.current_epoch();
        gauges(
            &mut encoder,
            "tributary_projection_epochs_behind",
            "Epochs opened but not yet through the projection (processing lag)",
            frontiers.iter().filter(|(_, f)| open(f)).filter_map(|(p, f)| {
                let behind = current?.saturating_sub(*f);
                Some((
                    vec![("projection", p.clone())],
                    i64::try_from(behind).unwrap_or(i64::MAX),
                ))
            }),
        )?;

        let as_of = self.catalog.as_of();
        let readiness = self.health.readiness();
        let single = |v: i64| std::iter::once((Labels::new(), v));
        gauges(
            &mut encoder,
            "tributary_committed_frontier",
            "The frontier queries read at (absent once every input has ended)",
            single(i64::try_from(as_of).unwrap_or(i64::MAX)).filter(|_| as_of != Epoch::MAX),
        )?;
        gauges(
            &mut encoder,
            "tributary_ready",
            "1 when /readyz answers ready",
            single(i64::from(readiness.is_ready())),
        )?;
        gauges(
            &mut encoder,
            "tributary_recovering",
            "1 while recovery runs",
            single(i64::from(readiness.recovering)),
        )?;

        let delivery = self.deliveries.counters();
        counters(
            &mut encoder,
            "tributary_action_deliveries",
            "Finished action deliveries by outcome (refused: dead-lettered without an attempt)",
            [
                ("delivered", delivery.delivered),
                ("dead_lettered", delivery.dead_lettered),
                ("refused", delivery.refused),
            ]
            .map(|(outcome, n)| (vec![("outcome", outcome.to_string())], n)),
        )?;
        counters(
            &mut encoder,
            "tributary_action_delivery_attempts",
            "Calls made to action endpoints, retries included",
            std::iter::once((Labels::new(), delivery.attempts)),
        )?;
        let gauge = |v: u64| std::iter::once((Labels::new(), i64::try_from(v).unwrap_or(i64::MAX)));
        gauges(
            &mut encoder,
            "tributary_action_queue_depth",
            "Actions waiting in a sink's queue",
            gauge(delivery.queued),
        )?;
        gauges(
            &mut encoder,
            "tributary_action_in_flight",
            "Actions taken from a queue and not finished yet",
            gauge(delivery.in_flight),
        )
    }
}

fn counters(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauges(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, i64)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn float_gauges(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}
