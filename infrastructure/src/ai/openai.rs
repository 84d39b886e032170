//! The conversation model behind any OpenAI-compatible chat completions API (OpenAI, Azure-style
//! gateways, Groq, DeepSeek, vLLM, Ollama…): one `POST {base}/v1/chat/completions` forcing a
//! call of the `respond_to_lead` tool, whose arguments are checked, and whose token usage is
//! priced exactly with the [`PriceTable`].
//!
//! Failures map onto [`ModelError`]: the client's timeout → `Timeout`; connection errors, 429
//! and 5xx → `Unavailable`; other 4xx → `Refused` (with the provider's `error.message`); a body
//! that is not a usable tool call (for a follow-up: one without text, or too long) →
//! `Malformed`. There is no retry here: the orchestrator retries with backoff and records each
//! failure; a follow-up that fails is written by the rules engine instead.
//!
//! Usage fields are all optional (providers differ): missing counts are 0, cached tokens come
//! from `prompt_tokens_details.cached_tokens` or DeepSeek's `prompt_cache_hit_tokens`. A model
//! missing from the price table costs 0 with the table's `…:unpriced` version.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use application::conversation_model::{
    ConversationModel, ModelError, ModelPurpose, ModelReply, ModelRequest, ModelUsage,
};
use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::prices::PriceTable;
use super::prompt::{read_follow_up, read_tool_arguments, request_body, TOOL_NAME};

/// The engine name recorded unless [`OpenAiCompatibleModel::with_engine`] says otherwise.
pub const DEFAULT_ENGINE: &str = "openai";

/// Longest piece of a provider's error body quoted in an error, in characters.
const MAX_ERROR_CHARS: usize = 300;

/// A chat completions endpoint and the model to ask.
#[derive(Clone)]
pub struct OpenAiCompatibleModel {
    /// Built with `http_client::provider_client`, which sets the timeout.
    client: reqwest::Client,
    /// `{base}/v1/chat/completions`.
    endpoint: String,
    /// Sent as a bearer token when present.
    api_key: Option<String>,
    /// The model to ask for.
    model: String,
    /// Prices for the usage.
    prices: Arc<PriceTable>,
    /// Recorded as the reply's engine.
    engine: String,
}

impl fmt::Debug for OpenAiCompatibleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatibleModel")
            .field("endpoint", &self.endpoint)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("price_version", &self.prices.version)
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatibleModel {
    /// Asks `model` at `base_url` (e.g. `https://api.openai.com`; a trailing `/` or `/v1` is
    /// fine) with `api_key` as bearer token when set and not blank.
    #[must_use]
    pub fn new(
        client: reqwest::Client,
        base_url: String,
        api_key: Option<String>,
        model: String,
        prices: Arc<PriceTable>,
    ) -> Self {
        let base = base_url.trim().trim_end_matches('/');
        let endpoint = if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        };
        Self {
            client,
            endpoint,
            api_key: api_key
                .map(|key| key.trim().to_owned())
                .filter(|key| !key.is_empty()),
            model,
            prices,
            engine: DEFAULT_ENGINE.to_owned(),
        }
    }

    /// The same model, recording `engine` (e.g. `groq`) as the reply's engine.
    #[must_use]
    pub fn with_engine(mut self, engine: impl Into<String>) -> Self {
        self.engine = engine.into();
        self
    }

    /// The URL requests go to.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Token counts and their cost, from the response's `usage` (all zero when absent).
    fn usage(&self, completion: &Completion) -> ModelUsage {
        let model = completion
            .model
            .as_deref()
            .map(str::trim)
            .filter(|model| !model.is_empty())
            .unwrap_or(&self.model)
            .to_owned();
        let usage = completion.usage.as_ref();
        let input = usage.and_then(|u| u.prompt_tokens).unwrap_or(0);
        let output = usage.and_then(|u| u.completion_tokens).unwrap_or(0);
        let cached = usage
            .and_then(|u| {
                u.prompt_tokens_details
                    .as_ref()
                    .and_then(|details| details.cached_tokens)
                    .or(u.prompt_cache_hit_tokens)
            })
            .unwrap_or(0);
        let (cost_micros, price_version) =
            match self.prices.cost_micros(&model, input, cached, output) {
                Some(cost) => (cost, self.prices.version.clone()),
                None => (0, self.prices.unpriced_version()),
            };
        ModelUsage {
            model,
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            cost_micros,
            price_version,
        }
    }
}

#[async_trait]
impl ConversationModel for OpenAiCompatibleModel {
    async fn respond(&self, request: &ModelRequest) -> Result<ModelReply, ModelError> {
        let started = Instant::now();
        let mut http = self
            .client
            .post(&self.endpoint)
            .json(&request_body(&self.model, request));
        if let Some(key) = &self.api_key {
            http = http.bearer_auth(key);
        }
        let response = http
            .send()
            .await
            .map_err(|error| transport_error(&error, started.elapsed()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport_error(&error, started.elapsed()))?;
        let latency = started.elapsed();
        if !status.is_success() {
            return Err(status_error(status, &body));
        }
        let completion: Completion = serde_json::from_slice(&body).map_err(|error| {
            ModelError::Malformed(format!("the response is not a chat completion: {error}"))
        })?;
        let answer = read_tool_arguments(request, completion.tool_arguments()?)
            .and_then(|answer| match request.purpose {
                ModelPurpose::Reply => Ok(answer),
                ModelPurpose::FollowUp { .. } => read_follow_up(answer),
            })
            .map_err(ModelError::Malformed)?;
        Ok(ModelReply {
            intent: answer.intent,
            answers: answer.answers,
            chosen_slot: answer.chosen_slot,
            reply: answer.reply,
            usage: Some(self.usage(&completion)),
            engine: self.engine.clone(),
            latency,
        })
    }
}

/// A failure to send the request or read the answer.
fn transport_error(error: &reqwest::Error, elapsed: Duration) -> ModelError {
    if error.is_timeout() {
        return ModelError::Timeout(elapsed);
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ModelError::Unavailable(message)
}

/// A non-success answer: 429 and 5xx are the provider's trouble, other 4xx are refusals.
fn status_error(status: StatusCode, body: &[u8]) -> ModelError {
    let message = format!("HTTP {}: {}", status.as_u16(), error_message(body));
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        ModelError::Refused(message)
    } else {
        ModelError::Unavailable(message)
    }
}

/// The provider's `error.message` (or `error`, or `message`), else the start of the body.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|json| {
        json.pointer("/error/message")
            .or_else(|| json.get("error"))
            .or_else(|| json.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    if text.is_empty() {
        "no details".to_owned()
    } else {
        text.chars().take(MAX_ERROR_CHARS).collect()
    }
}

/// A chat completion, as far as it is read.
#[derive(Debug, Deserialize)]
struct Completion {
    /// The model that answered (often a dated name).
    #[serde(default)]
    model: Option<String>,
    /// The answers; the first is used.
    #[serde(default)]
    choices: Option<Vec<Choice>>,
    /// Token counts.
    #[serde(default)]
    usage: Option<Usage>,
}

impl Completion {
    /// The `arguments` of the first choice's `respond_to_lead` call.
    fn tool_arguments(&self) -> Result<&str, ModelError> {
        let choice = self
            .choices
            .as_deref()
            .and_then(<[Choice]>::first)
            .ok_or_else(|| ModelError::Malformed("the response has no choices".to_owned()))?;
        let message = choice.message.as_ref();
        message
            .and_then(|message| message.tool_calls.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|call| call.function.as_ref())
            .find(|function| function.name.as_deref() == Some(TOOL_NAME))
            .and_then(|function| function.arguments.as_deref())
            .ok_or_else(|| {
                let refusal = message
                    .and_then(|message| message.refusal.as_deref())
                    .map(|refusal| format!(", refusal: {refusal}"))
                    .unwrap_or_default();
                let finish = choice.finish_reason.as_deref().unwrap_or("none");
                ModelError::Malformed(format!(
                    "no {TOOL_NAME} tool call (finish_reason: {finish}{refusal})"
                ))
            })
    }
}

/// One choice.
#[derive(Debug, Deserialize)]
struct Choice {
    /// The assistant's message.
    #[serde(default)]
    message: Option<AssistantMessage>,
    /// Why generation stopped (`tool_calls`, `stop`, `length`, `content_filter`).
    #[serde(default)]
    finish_reason: Option<String>,
}

/// The assistant's message.
#[derive(Debug, Deserialize)]
struct AssistantMessage {
    /// The tool calls.
    #[serde(default)]
    tool_calls: Option<Vec<ToolCall>>,
    /// Why the model declined, when it did.
    #[serde(default)]
    refusal: Option<String>,
}

/// One tool call.
#[derive(Debug, Deserialize)]
struct ToolCall {
    /// The function called.
    #[serde(default)]
    function: Option<FunctionCall>,
}

/// A function call: its name and its arguments as a JSON string.
#[derive(Debug, Deserialize)]
struct FunctionCall {
    /// The function's name.
    #[serde(default)]
    name: Option<String>,
    /// The arguments, a JSON document in a string.
    #[serde(default)]
    arguments: Option<String>,
}

/// Token counts, every field optional.
#[derive(Debug, Deserialize)]
struct Usage {
    /// Prompt tokens, cached ones included.
    #[serde(default)]
    prompt_tokens: Option<u32>,
    /// Completion tokens, reasoning included.
    #[serde(default)]
    completion_tokens: Option<u32>,
    /// OpenAI's breakdown of the prompt tokens.
    #[serde(default)]
    prompt_tokens_details: Option<PromptTokensDetails>,
    /// DeepSeek's cached prompt tokens.
    #[serde(default)]
    prompt_cache_hit_tokens: Option<u32>,
}

/// Prompt token breakdown.
#[derive(Debug, Deserialize)]
struct PromptTokensDetails {
    /// Served from the cache.
    #[serde(default)]
    cached_tokens: Option<u32>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::http_client::provider_client;

    fn client() -> reqwest::Client {
        provider_client(Duration::from_secs(1)).unwrap()
    }

    fn model(base: &str) -> OpenAiCompatibleModel {
        OpenAiCompatibleModel::new(
            client(),
            base.to_owned(),
            Some(" ".to_owned()),
            "gpt-4o-mini".to_owned(),
            Arc::new(PriceTable::builtin()),
        )
    }

    #[test]
    fn the_endpoint_never_doubles_v1_or_slashes() {
        for base in [
            "https://api.openai.com",
            "https://api.openai.com/",
            "https://api.openai.com/v1",
            "https://api.openai.com/v1/",
        ] {
            assert_eq!(
                model(base).endpoint(),
                "https://api.openai.com/v1/chat/completions"
            );
        }
        assert_eq!(
            model("https://api.groq.com/openai/v1").endpoint(),
            "https://api.groq.com/openai/v1/chat/completions"
        );
    }

    #[test]
    fn a_blank_key_is_no_key_and_keys_are_not_printed() {
        let model = model("http://x");
        assert!(model.api_key.is_none());
        let with_key = OpenAiCompatibleModel::new(
            client(),
            "http://x".to_owned(),
            Some("sk-secret".to_owned()),
            "m".to_owned(),
            Arc::new(PriceTable::builtin()),
        );
        assert!(!format!("{with_key:?}").contains("sk-secret"));
    }

    #[test]
    fn provider_error_messages_are_quoted() {
        assert_eq!(
            error_message(br#"{"error": {"message": "Incorrect API key", "type": "x"}}"#),
            "Incorrect API key"
        );
        assert_eq!(
            error_message(br#"{"error": "model not found"}"#),
            "model not found"
        );
        assert_eq!(error_message(b" Bad Gateway "), "Bad Gateway");
        assert_eq!(error_message(b""), "no details");
        assert!(matches!(
            status_error(StatusCode::TOO_MANY_REQUESTS, b"{}"),
            ModelError::Unavailable(_)
        ));
        assert!(matches!(
            status_error(StatusCode::NOT_FOUND, b"{}"),
            ModelError::Refused(_)
        ));
    }

    #[test]
    fn usage_without_fields_is_zero_and_deepseek_cache_hits_count() {
        let model = model("http://x");
        let bare: Completion = serde_json::from_str(r#"{"choices": null}"#).unwrap();
        let usage = model.usage(&bare);
        assert_eq!(
            (usage.model.as_str(), usage.input_tokens, usage.cost_micros),
            ("gpt-4o-mini", 0, 0)
        );
        let deepseek: Completion = serde_json::from_str(
            r#"{"model": "deepseek-chat", "usage": {"prompt_tokens": 100,
                "completion_tokens": 5, "prompt_cache_hit_tokens": 60}}"#,
        )
        .unwrap();
        let usage = model.usage(&deepseek);
        assert_eq!(usage.cached_input_tokens, 60);
        assert_eq!(usage.cost_micros, 0);
        assert_eq!(usage.price_version, "builtin-2026-11:unpriced");
    }
}
