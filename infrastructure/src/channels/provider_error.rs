//! How an HTTP exchange with a messaging provider that did not end in an accepted message
//! becomes a [`SendError`]. Twilio and the WhatsApp Cloud API differ only in their error body and
//! their code tables; the rest is shared here: network trouble and timeouts, 5xx and 429 with
//! `Retry-After`, a provider code that names a permanent refusal, and everything else refused.

use std::time::Duration;

use application::{PermanentFailure, SendError};
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// A provider's answer to a request that reached it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The `Retry-After` header, in seconds.
    pub(crate) retry_after: Option<Duration>,
    /// The raw body (empty if it could not be read after a failure status).
    pub(crate) body: Vec<u8>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub(crate) const fn is_success(&self) -> bool {
        self.status >= 200 && self.status < 300
    }

    /// This answer as a failure carrying the provider's `code` and `message` (the HTTP status
    /// stands in for a missing message).
    pub(crate) fn failure(&self, code: Option<String>, message: Option<String>) -> Failure {
        Failure {
            status: self.status,
            code,
            message: message.unwrap_or_else(|| format!("HTTP {}", self.status)),
            retry_after: self.retry_after,
        }
    }
}

/// Sends `request` and reads the answer. No answer at all is an error (see [`transport`]); so is
/// a success whose body cannot be read (see [`unreadable_success`]). A failure status whose body
/// cannot be read is still an answer: its status classifies it.
pub(crate) async fn exchange(
    provider: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answer, SendError> {
    let response = request
        .send()
        .await
        .map_err(|error| transport(provider, &error))?;
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let success = response.status().is_success();
    match response.bytes().await {
        Ok(body) => Ok(Answer {
            status,
            retry_after,
            body: body.to_vec(),
        }),
        Err(_) if success => Err(unreadable_success(provider, status)),
        Err(_) => Ok(Answer {
            status,
            retry_after,
            body: Vec::new(),
        }),
    }
}

/// A provider's error codes that mean something other than "refused".
#[derive(Debug)]
pub(crate) struct CodeTable {
    /// Codes worth retrying later (rate limits, temporary throttling).
    pub(crate) transient: &'static [&'static str],
    /// Codes that name a specific permanent failure.
    pub(crate) permanent: &'static [(&'static str, PermanentFailure)],
}

/// A provider's non-success answer, read.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The provider's own error code, if its body carried one.
    pub(crate) code: Option<String>,
    /// What the provider said, or the HTTP status when its body said nothing readable.
    pub(crate) message: String,
    /// The `Retry-After` header, in seconds.
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// Classifies the failure: 5xx, 429 and transient codes are worth retrying; a code in the
    /// permanent table names its failure; any other answer is refused.
    pub(crate) fn into_send_error(self, table: &CodeTable) -> SendError {
        let code = self.code.as_deref();
        let transient_code = code.is_some_and(|code| table.transient.contains(&code));
        if self.status >= 500 || self.status == 429 || transient_code {
            return SendError::Transient {
                code: Some(self.code.unwrap_or_else(|| self.status.to_string())),
                message: self.message,
                retry_after: self.retry_after,
            };
        }
        let kind = code
            .and_then(|code| {
                table
                    .permanent
                    .iter()
                    .find(|(known, _)| *known == code)
                    .map(|(_, kind)| *kind)
            })
            .unwrap_or(PermanentFailure::Refused);
        SendError::Permanent {
            kind,
            code: Some(self.code.unwrap_or_else(|| self.status.to_string())),
            message: self.message,
        }
    }
}

/// The `Retry-After` header as a number of seconds (the form Twilio and Meta use).
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

/// A request that got no answer: a request that could not even be built is a configuration
/// problem (refused); a timeout or a connection failure is worth retrying.
fn transport(provider: &str, error: &reqwest::Error) -> SendError {
    if error.is_builder() {
        return refused(format!("cannot build a {provider} request: {error}"));
    }
    let message = if error.is_timeout() {
        format!("{provider} did not answer in time")
    } else {
        format!("{provider} could not be reached: {error}")
    };
    SendError::Transient {
        code: None,
        message,
        retry_after: None,
    }
}

/// A success status whose body does not say which message was created. The provider most likely
/// took the message, so sending again could deliver it twice: refused, not retried.
pub(crate) fn unreadable_success(provider: &str, status: u16) -> SendError {
    SendError::Permanent {
        kind: PermanentFailure::Refused,
        code: Some(status.to_string()),
        message: format!("{provider} answered {status} but its answer names no message"),
    }
}

/// A send refused before any request was made (no sender, unsupported channel).
pub(crate) fn refused(message: String) -> SendError {
    SendError::Permanent {
        kind: PermanentFailure::Refused,
        code: None,
        message,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    const TABLE: CodeTable = CodeTable {
        transient: &["20429"],
        permanent: &[("21610", PermanentFailure::Unsubscribed)],
    };

    fn failure(status: u16, code: Option<&str>) -> Failure {
        Failure {
            status,
            code: code.map(str::to_owned),
            message: "m".to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn server_errors_and_rate_limits_are_transient() {
        for (status, code) in [
            (500, None),
            (503, Some("1")),
            (429, None),
            (400, Some("20429")),
        ] {
            let error = failure(status, code).into_send_error(&TABLE);
            assert!(matches!(error, SendError::Transient { .. }), "{error:?}");
        }
    }

    #[test]
    fn a_known_code_names_its_failure_and_others_are_refused() {
        let unsubscribed = failure(400, Some("21610")).into_send_error(&TABLE);
        assert!(matches!(
            unsubscribed,
            SendError::Permanent {
                kind: PermanentFailure::Unsubscribed,
                ..
            }
        ));
        let refused = failure(401, None).into_send_error(&TABLE);
        assert_eq!(
            refused,
            SendError::Permanent {
                kind: PermanentFailure::Refused,
                code: Some("401".to_owned()),
                message: "m".to_owned()
            }
        );
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
