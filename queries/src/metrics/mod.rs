//! `/metrics`: the Prometheus text exposition of the pipeline and the HTTP API.
//!
//! One [`Metrics`] per server, passed explicitly (no global registry). It owns a
//! `prometheus-client` registry with the HTTP metrics recorded as requests are answered,
//! and any number of [`Collector`]s that read their values at scrape time — the
//! pipeline's counters, frontiers and sources ([`PipelineCollector`]), and whatever else
//! registers one ([`Metrics::register_collector`], e.g. action deliveries).
//!
//! Metrics of the HTTP API:
//! * `tributary_http_request_duration_seconds{route, method}` — histogram of answer
//!   times; query latency is `route="/v1/sql"`;
//! * `tributary_http_requests_total{route, method, status}`.

mod pipeline;

use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use pipeline::PipelineCollector;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    route: String,
    method: String,
    status: String,
}

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Histogram buckets: 0.5 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// The server's metrics (see the module docs).
#[derive(Debug)]
pub struct Metrics {
    registry: RwLock<Registry>,
    latency: LatencyFamily,
    requests: Family<StatusLabels, Counter>,
}

impl Default for Metrics {
    /// The HTTP metrics only.
    fn default() -> Self {
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let requests = Family::<StatusLabels, Counter>::default();
        let mut registry = Registry::default();
        registry.register(
            "tributary_http_request_duration_seconds",
            "Time to answer an HTTP request, by route (query latency: route=\"/v1/sql\")",
            latency.clone(),
        );
        registry.register(
            "tributary_http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        Self {
            registry: RwLock::new(registry),
            latency,
            requests,
        }
    }
}

impl Metrics {
    /// Adds a source of metrics read at every scrape.
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .register_collector(collector);
    }

    /// Records one answered request; `route` is the matched path pattern (`unmatched` when
    /// no route matched, so probing random paths cannot grow the label set).
    pub fn observe_request(&self, route: Option<&str>, method: &str, status: u16, elapsed: Duration) {
        let route = route.unwrap_or("unmatched").to_string();
        let method = method.to_string();
        self.requests
            .get_or_create(&StatusLabels {
                route: route.clone(),
                method: method.clone(),
                status: status.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route, method })
            .observe(elapsed.as_secs_f64());
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let registry = self.registry.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_show_as_a_histogram_and_a_counter_by_route() -> Result<(), std::fmt::Error> {
        let metrics = Metrics::default();
        metrics.observe_request(Some("/v1/sql"), "POST", 200, Duration::from_millis(3));
        metrics.observe_request(None, "GET", 401, Duration::from_millis(1));
        let text = metrics.render()?;
        assert!(
            text.contains("# TYPE tributary_http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(r#"tributary_http_request_duration_seconds_count{route="/v1/sql",method="POST"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"tributary_http_requests_total{route="unmatched",method="GET",status="401"} 1"#),
            "{text}"
        );
        Ok(())
    }
}
