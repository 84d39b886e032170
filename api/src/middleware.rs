//! Around every request: a request id (taken from `X-Request-Id` or made up), a tracing span that
//! carries it so every log line of the request has it, the id echoed in the response, request
//! metrics, and errors raised before a handler turned into the one JSON error shape.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use crate::metrics;

/// The id of the request being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The header carrying the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext;

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RequestContextEndpoint { inner: ep }
    }
}

/// The endpoint wrapped by [`RequestContext`].
#[derive(Debug)]
pub struct RequestContextEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let id = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        req.extensions_mut().insert(RequestId(id.clone()));
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let span = tracing::info_span!("api.request", request_id = %id, %method, %path);
        let started = Instant::now();
        async move {
            let mut response = match self.inner.call(req).await {
                Ok(output) => output.into_response(),
                Err(error) => crate::error::from_poem(error),
            };
            let status = response.status();
            if let Ok(value) = id.parse() {
                response.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            let elapsed = started.elapsed();
            metrics::record_request(&method, &path, status.as_u16(), elapsed);
            tracing::info!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                "request served"
            );
            Ok(response)
        }
        .instrument(span)
        .await
    }
}
