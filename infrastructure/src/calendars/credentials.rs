//! A tenant's Google Calendar connection, opened (what the adapter needs to refresh tokens and
//! call the API), and where Google's endpoints are. `Debug` hides the secrets.

use std::fmt;

/// A tenant's OAuth client and grant for Google Calendar.
#[derive(Clone, PartialEq, Eq)]
pub struct GoogleCredentials {
    /// The OAuth client id (`….apps.googleusercontent.com`).
    pub client_id: String,
    /// The OAuth client secret. Secret.
    pub client_secret: String,
    /// The long-lived refresh token the tenant granted (offline access). Secret.
    pub refresh_token: String,
    /// The calendar read and written (`primary`, or an id such as `team@example.com`).
    pub calendar_id: String,
}

impl fmt::Debug for GoogleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<secret>")
            .field("refresh_token", &"<secret>")
            .field("calendar_id", &self.calendar_id)
            .finish()
    }
}

/// Where Google's OAuth token endpoint and Calendar API are (configurable so tests and staging
/// can point elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleEndpoints {
    /// The token endpoint, e.g. `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// The API base, e.g. `https://www.googleapis.com` (requests go to
    /// `{api_base}/calendar/v3/…`).
    pub api_base: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        let credentials = GoogleCredentials {
            client_id: "client-1".into(),
            client_secret: "client-secret-9".into(),
            refresh_token: "1//refresh-7".into(),
            calendar_id: "primary".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("client-1") && shown.contains("primary"));
        assert!(!shown.contains("client-secret-9") && !shown.contains("refresh-7"));
    }
}
