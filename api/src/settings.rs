//! Configuration, typed and loaded once. The CLI (clap, with `env` fallbacks) is the only place
//! that reads the environment; everything else is handed a [`Settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use infrastructure::secrets::SecretBox;

/// Where Twilio's REST API is, unless configured otherwise.
pub const DEFAULT_TWILIO_API_BASE: &str = "https://api.twilio.com";
/// Where the WhatsApp Cloud API (Graph API) is, unless configured otherwise.
pub const DEFAULT_WHATSAPP_API_BASE: &str = "https://graph.facebook.com";
/// The Graph API version used, unless configured otherwise.
pub const DEFAULT_WHATSAPP_API_VERSION: &str = "v21.0";
/// Google's OAuth token endpoint, unless configured otherwise.
pub const DEFAULT_GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Where the Google Calendar API is, unless configured otherwise.
pub const DEFAULT_GOOGLE_API_BASE: &str = "https://www.googleapis.com";
/// How long a provider call may take, in milliseconds, unless configured otherwise.
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 10_000;
/// How long a model call may take, in milliseconds, unless configured otherwise.
pub const DEFAULT_MODEL_TIMEOUT_MS: u64 = 20_000;
/// Sends per second per tenant and channel unless configured.
pub const DEFAULT_SEND_RATE_PER_SECOND: u32 = 10;
/// The file under the data directory holding the key `demo` generates.
const LOCAL_SECRETS_KEY_FILE: &str = "secrets.key";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Explicit PostgreSQL URL (`DATABASE_URL`); when absent, one is found (see `locate`).
    pub database_url: Option<String>,
    /// Where the embedded throwaway cluster keeps its data when it is used.
    pub data_dir: PathBuf,
    /// Always use the embedded cluster under `data_dir`, whatever else is reachable.
    pub embedded: bool,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The platform administrator's token (`BOOKERBOT_ADMIN_TOKEN`); admin routes are closed
    /// without it.
    pub admin_token: Option<String>,
    /// Largest pool of database connections.
    pub max_connections: u32,
    /// Longest a read waits for `min_position` before answering 503.
    pub read_wait: Duration,
    /// Attempts for a command that keeps hitting optimistic conflicts.
    pub command_attempts: u32,
    /// Whether this instance runs the projection runners.
    pub run_projections: bool,
    /// Largest CSV upload `POST /api/v1/leads/import` accepts, in bytes.
    pub import_max_bytes: u64,
    /// Seals tenants' provider secrets and model keys (`BOOKERBOT_SECRETS_KEY`); without it no
    /// secret can be stored or opened.
    pub secrets_key: Option<SecretBox>,
    /// The public base URL providers call (`BOOKERBOT_PUBLIC_URL`, no trailing `/`): webhook
    /// signatures are checked against it and Twilio status callback URLs are built from it.
    pub public_url: Option<String>,
    /// Base URL of Twilio's REST API (no trailing `/`).
    pub twilio_api_base: String,
    /// Base URL of the Graph API serving WhatsApp Cloud (no trailing `/`).
    pub whatsapp_api_base: String,
    /// Graph API version, e.g. `v21.0`.
    pub whatsapp_api_version: String,
    /// Google's OAuth token endpoint (refresh-token grants).
    pub google_token_url: String,
    /// Base URL of the Google Calendar API (no trailing `/`).
    pub google_api_base: String,
    /// A JSON price table for model calls; `None`: the built-in table.
    pub ai_prices_path: Option<PathBuf>,
    /// How long a call to a message provider may take.
    pub provider_timeout: Duration,
    /// How long a call to a conversation model may take.
    pub model_timeout: Duration,
    /// Whether this instance sends messages and runs the model (the workers).
    pub run_workers: bool,
    /// Sends per second per tenant and channel, shared by every instance (0: no limit).
    pub send_rate_per_second: u32,
}

impl Settings {
    /// Settings for tests and benchmarks: given database, ephemeral port, admin token set.
    pub fn for_tests(database_url: String, admin_token: &str) -> Self {
        Self {
            database_url: Some(database_url),
            data_dir: PathBuf::from(".bookerbot"),
            embedded: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: Some(admin_token.to_string()),
            max_connections: 20,
            read_wait: Duration::from_secs(5),
            command_attempts: 10,
            run_projections: true,
            import_max_bytes: infrastructure::lead_import::DEFAULT_MAX_BYTES,
            secrets_key: Some(SecretBox::new([7; 32])),
            public_url: None,
            twilio_api_base: DEFAULT_TWILIO_API_BASE.to_owned(),
            whatsapp_api_base: DEFAULT_WHATSAPP_API_BASE.to_owned(),
            whatsapp_api_version: DEFAULT_WHATSAPP_API_VERSION.to_owned(),
            google_token_url: DEFAULT_GOOGLE_TOKEN_URL.to_owned(),
            google_api_base: DEFAULT_GOOGLE_API_BASE.to_owned(),
            ai_prices_path: None,
            provider_timeout: Duration::from_millis(DEFAULT_PROVIDER_TIMEOUT_MS),
            model_timeout: Duration::from_millis(DEFAULT_MODEL_TIMEOUT_MS),
            run_workers: true,
            // The tests' clock stands still: a rate would hold every send past the first burst
            // forever. The limit has tests of its own.
            send_rate_per_second: 0,
        }
    }

    /// For `demo`: when no secrets key is configured, uses the one kept in
    /// `<data_dir>/secrets.key`, generating it (readable by the owner only) the first time, so
    /// secrets stored in one demo run open in the next.
    pub fn use_local_secrets_key(&mut self) -> anyhow::Result<()> {
        if self.secrets_key.is_none() {
            self.secrets_key = Some(local_secrets_key(&self.data_dir)?);
        }
        Ok(())
    }
}

/// Reads `BOOKERBOT_SECRETS_KEY` (clap value parser): 64 hex characters or base64 of 32 bytes.
pub fn parse_secrets_key(text: &str) -> Result<SecretBox, String> {
    SecretBox::from_config(text).map_err(|error| error.to_string())
}

/// Reads a base URL (clap value parser): `http` or `https` with a host; a trailing `/` is
/// dropped so paths can be appended.
pub fn parse_base_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|error| format!("not a URL ({error}); expected e.g. https://example.com"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http or https URL with a host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or a fragment".to_owned());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The key in `<data_dir>/secrets.key`, created (mode 0600) if missing.
fn local_secrets_key(data_dir: &Path) -> anyhow::Result<SecretBox> {
    let path = data_dir.join(LOCAL_SECRETS_KEY_FILE);
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("Failed to create {}", data_dir.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            let text = SecretBox::generate_key_text();
            std::io::Write::write_all(&mut file, format!("{text}\n").as_bytes())
                .with_context(|| format!("Failed to write {}", path.display()))?;
            SecretBox::from_config(&text).context("Failed to read the generated key")
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("Failed to read {}", path.display()))?;
            SecretBox::from_config(&text).with_context(|| format!("{}", path.display()))
        }
        Err(error) => Err(error).with_context(|| format!("Failed to create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn the_local_key_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Settings::for_tests("postgres://x".into(), "admin");
        first.data_dir = dir.path().join("state");
        first.secrets_key = None;
        let mut second = first.clone();
        first.use_local_secrets_key().unwrap();
        second.use_local_secrets_key().unwrap();
        let sealed = first
            .secrets_key
            .as_ref()
            .unwrap()
            .seal(b"token", b"aad")
            .unwrap();
        assert_eq!(
            second
                .secrets_key
                .as_ref()
                .unwrap()
                .open(&sealed, b"aad")
                .unwrap(),
            b"token"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("state").join("secrets.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_tests("postgres://x".into(), "admin");
        settings.data_dir = dir.path().to_path_buf();
        settings.use_local_secrets_key().unwrap();
        assert!(!dir.path().join("secrets.key").exists());
    }

    #[test]
    fn base_urls_must_be_http_and_lose_their_trailing_slash() {
        assert_eq!(
            parse_base_url("https://bookerbot.example.com/").unwrap(),
            "https://bookerbot.example.com"
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:9000/hooks/").unwrap(),
            "http://127.0.0.1:9000/hooks"
        );
        for bad in [
            "ftp://x.example",
            "not a url",
            "https://x.example/?a=1",
            "/relative",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
        assert!(parse_secrets_key(&"ab".repeat(32)).is_ok());
        assert!(parse_secrets_key("short").is_err());
    }
}
