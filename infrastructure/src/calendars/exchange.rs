//! One HTTP exchange with Google, and how an answer that is not a success becomes a
//! [`CalendarError`]: no answer, a timeout, 5xx, 429 and Google's rate-limit 403s are worth
//! retrying (`Unavailable`); any other answer is `Refused` with Google's own message.

use std::time::Duration;

use application::CalendarError;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

/// The `errors[].reason`s with which Google answers 403 to mean "slow down", not "forbidden"
/// (https://developers.google.com/workspace/calendar/api/guides/errors).
const RATE_LIMIT_REASONS: [&str; 3] = [
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
];

/// Google's answer to a request that reached it.
#[derive(Debug)]
pub(super) struct Answer {
    /// The HTTP status.
    pub(super) status: u16,
    /// The `Retry-After` header, in seconds.
    pub(super) retry_after: Option<Duration>,
    /// The raw body (empty if it could not be read).
    pub(super) body: Vec<u8>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub(super) const fn is_success(&self) -> bool {
        self.status >= 200 && self.status < 300
    }

    /// This (failed) answer as an error.
    pub(super) fn failure(&self) -> CalendarError {
        let error = serde_json::from_slice::<ErrorBody>(&self.body)
            .ok()
            .map(|body| body.error);
        let message = error
            .as_ref()
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| format!("HTTP {}", self.status));
        let rate_limited = self.status == 403
            && error.as_ref().is_some_and(|e| {
                e.errors
                    .iter()
                    .any(|item| RATE_LIMIT_REASONS.contains(&item.reason.as_str()))
            });
        if self.status >= 500 || self.status == 429 || rate_limited {
            CalendarError::Unavailable {
                message,
                retry_after: self.retry_after,
            }
        } else {
            CalendarError::Refused {
                status: self.status,
                message,
            }
        }
    }

    /// A success whose body does not read as expected: Google answered, but not in a shape we
    /// know; treated as passing trouble rather than as an answer.
    pub(super) fn unreadable(&self, what: &str) -> CalendarError {
        CalendarError::Unavailable {
            message: format!("unreadable {what} answer (HTTP {})", self.status),
            retry_after: None,
        }
    }
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"domain", "reason"}]}}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    #[serde(default)]
    reason: String,
}

/// Sends `request` and reads the answer. No answer at all (no connection, a timeout) is
/// `Unavailable`: the URLs are built from validated configuration and percent-encoded ids, so
/// a request that cannot even be built does not happen.
pub(super) async fn exchange(request: reqwest::RequestBuilder) -> Result<Answer, CalendarError> {
    let response = request.send().await.map_err(|error| {
        let message = if error.is_timeout() {
            "Google did not answer in time".to_owned()
        } else {
            format!("cannot reach Google: {error}")
        };
        CalendarError::Unavailable {
            message,
            retry_after: None,
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

/// The `Retry-After` header as a number of seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            retry_after: Some(Duration::from_secs(7)),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn server_errors_throttling_and_rate_limit_403s_are_worth_retrying() {
        let limited = r#"{"error": {"code": 403, "message": "Rate Limit Exceeded",
            "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}]}}"#;
        for (status, body, message) in [
            (503, "", "HTTP 503"),
            (429, "", "HTTP 429"),
            (403, limited, "Rate Limit Exceeded"),
        ] {
            assert_eq!(
                answer(status, body).failure(),
                CalendarError::Unavailable {
                    message: message.to_owned(),
                    retry_after: Some(Duration::from_secs(7)),
                }
            );
        }
    }

    #[test]
    fn other_client_errors_are_refused_with_googles_message() {
        let forbidden = r#"{"error": {"code": 403, "message": "Forbidden",
            "errors": [{"domain": "global", "reason": "forbidden"}]}}"#;
        assert_eq!(
            answer(403, forbidden).failure(),
            CalendarError::Refused {
                status: 403,
                message: "Forbidden".to_owned()
            }
        );
        assert_eq!(
            answer(400, "not json").failure(),
            CalendarError::Refused {
                status: 400,
                message: "HTTP 400".to_owned()
            }
        );
    }
}
