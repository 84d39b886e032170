//! The one way to build an HTTP client for talking to providers: TLS through rustls with the
//! `ring` provider (already in the build through sqlx), explicit timeouts, a recognisable
//! user agent.

use std::time::Duration;

use anyhow::Context;

/// A client whose requests give up after `timeout` (connecting within a few seconds).
pub fn provider_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    // Installing twice is harmless: the second call reports that one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .user_agent(concat!("bookerbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("Failed to build an HTTP client")
}
