//! The one way to build an HTTP client for talking to providers: TLS through rustls with the
//! `ring` provider (already in the build through sqlx), explicit timeouts, a recognisable
//! user agent.

use std::time::Duration;

use anyhow::Context;

/// Makes `ring` the process's TLS crypto provider (reqwest is built without one of its own).
/// Call once early; calling again is harmless.
pub fn install_crypto_provider() {
    // A second call reports that a provider is already installed: nothing to do.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client whose requests give up after `timeout` (connecting within a few seconds).
pub fn provider_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .user_agent(concat!("bookerbot/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("Failed to build an HTTP client")
}
