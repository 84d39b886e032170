//! Prometheus metrics, written in the text exposition format without a metrics framework: request
//! counts and latency histograms per route, and projection positions and lag (read at scrape time).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    requests: BTreeMap::new(),
    latency: BTreeMap::new(),
});

/// Words that appear literally in routes; every other path segment is an id or a value.
const ROUTE_WORDS: [&str; 22] = [
    "",
    "api",
    "v1",
    "leads",
    "workflows",
    "tenants",
    "admin",
    "projections",
    "status",
    "tags",
    "opt-out",
    "history",
    "activate",
    "pause",
    "resume",
    "archive",
    "api-keys",
    "health",
    "live",
    "ready",
    "metrics",
    "openapi.json",
];

/// Collapses ids and values in a path so routes, not resources, are counted
/// (`/api/v1/leads/{id}`): the label set stays bounded whatever clients send.
fn route_of(path: &str) -> String {
    if path.starts_with("/docs") {
        return "/docs".to_string();
    }
    path.split('/')
        .map(|segment| {
            if ROUTE_WORDS.contains(&segment) {
                segment
            } else {
                "{id}"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Records one served request.
pub fn record_request(method: &str, path: &str, status: u16, elapsed: Duration) {
    let route = route_of(path);
    let seconds = elapsed.as_secs_f64();
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    *registry
        .requests
        .entry((method.to_string(), route.clone(), status))
        .or_default() += 1;
    let histogram = registry
        .latency
        .entry((method.to_string(), route))
        .or_default();
    histogram.count += 1;
    histogram.sum += seconds;
    for (bucket, count) in BUCKETS.iter().zip(histogram.counts.iter_mut()) {
        if seconds <= *bucket {
            *count += 1;
        }
    }
}

/// The exposition text.
pub async fn render(pool: &PgPool) -> String {
    let mut out = String::new();
    {
        let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        out.push_str("# HELP bookerbot_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE bookerbot_http_requests_total counter\n");
        for ((method, route, status), count) in &registry.requests {
            let _ = writeln!(
                out,
                "bookerbot_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP bookerbot_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE bookerbot_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &registry.latency {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bucket, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "bookerbot_http_request_duration_seconds_bucket{{{labels},le=\"{bucket}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "bookerbot_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "bookerbot_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "bookerbot_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
    out.push_str(
        "# HELP bookerbot_projection_events_applied_total Events applied by this process.\n",
    );
    out.push_str("# TYPE bookerbot_projection_events_applied_total counter\n");
    for (target, applied) in projections::status::applied_in_process() {
        let _ = writeln!(
            out,
            "bookerbot_projection_events_applied_total{{target=\"{target}\"}} {applied}"
        );
    }
    match projections::status::all(pool).await {
        Ok(statuses) => {
            out.push_str(
                "# HELP bookerbot_projection_lag_events Committed events not yet applied.\n",
            );
            out.push_str("# TYPE bookerbot_projection_lag_events gauge\n");
            for s in &statuses {
                let _ = writeln!(
                    out,
                    "bookerbot_projection_lag_events{{target=\"{}\"}} {}",
                    s.target, s.lag_events
                );
            }
            out.push_str("# HELP bookerbot_projection_lag_seconds Age of the oldest event not yet applied.\n");
            out.push_str("# TYPE bookerbot_projection_lag_seconds gauge\n");
            for s in &statuses {
                let _ = writeln!(
                    out,
                    "bookerbot_projection_lag_seconds{{target=\"{}\"}} {}",
                    s.target, s.lag_seconds
                );
            }
            out.push_str(
                "# HELP bookerbot_projection_position Global position of the last event applied.\n",
            );
            out.push_str("# TYPE bookerbot_projection_position gauge\n");
            for s in &statuses {
                let _ = writeln!(
                    out,
                    "bookerbot_projection_position{{target=\"{}\"}} {}",
                    s.target, s.position.global_position
                );
            }
        }
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "projection status unavailable for metrics"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn ids_in_paths_are_collapsed_into_routes() {
        assert_eq!(
            route_of("/api/v1/leads/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/status"),
            "/api/v1/leads/{id}/status"
        );
        assert_eq!(
            route_of("/api/v1/leads/not-a-uuid/tags/vip"),
            "/api/v1/leads/{id}/tags/{id}"
        );
        assert_eq!(route_of("/api/v1/leads"), "/api/v1/leads");
    }
}
