//! A responder backed by any OpenAI-compatible chat-completions endpoint,
//! streamed (server-sent events) and grounded on the retrieved articles.

use async_trait::async_trait;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::embedded::NO_MATCH;
use crate::{Answer, AssistantError, Question, Responder};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Of an error body, what an error message quotes.
const EXCERPT_CHARS: usize = 200;

#[derive(Clone)]
pub struct OpenAiConfig {
    /// Base URL (`http://host/v1`) or the full `…/chat/completions`.
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug)]
pub struct OpenAiCompatible {
    endpoint: String,
    config: OpenAiConfig,
    http: reqwest::Client,
}

impl OpenAiCompatible {
    pub fn new(config: OpenAiConfig) -> Result<Self, AssistantError> {
        let base = config.url.trim_end_matches('/');
        let endpoint = if base.ends_with("/chat/completions") {
            base.to_owned()
        } else {
            format!("{base}/chat/completions")
        };
        reqwest::Url::parse(&endpoint)
            .map_err(|e| AssistantError::Provider(format!("invalid URL {endpoint:?}: {e}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| AssistantError::Provider(e.to_string()))?;
        Ok(Self {
            endpoint,
            config,
            http,
        })
    }

    /// The chat: a system prompt with the numbered articles, the history,
    /// then the question.
    fn messages(question: &Question) -> Vec<Value> {
        let articles: Vec<String> = question
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| format!("[{}] {}\n{}", i + 1, s.title, s.body))
            .collect();
        let system = format!(
            "You are a customer-support assistant. Answer only from the help articles below. \
             Cite the articles you use as [n]. If they do not cover the question, say so and \
             offer to connect the customer with a human agent.\n\n{}",
            articles.join("\n\n")
        );
        let mut messages = vec![json!({ "role": "system", "content": system })];
        for turn in &question.history {
            let role = if turn.from_customer {
                "user"
            } else {
                "assistant"
            };
            messages.push(json!({ "role": role, "content": turn.text }));
        }
        messages.push(json!({ "role": "user", "content": question.text }));
        messages
    }
}

/// The articles an answer cites as `[n]` (indexes into the sources).
fn citations(text: &str, sources: usize) -> Vec<usize> {
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        if let Some(close) = rest.find(']')
            && let Ok(n) = rest[..close].trim().parse::<usize>()
            && (1..=sources).contains(&n)
            && !cited.contains(&(n - 1))
        {
            cited.push(n - 1);
        }
    }
    cited
}

#[async_trait]
impl Responder for OpenAiCompatible {
    fn provider(&self) -> &str {
        "openai"
    }

    fn model(&self) -> Option<&str> {
        Some(&self.config.model)
    }

    async fn respond(
        &self,
        question: &Question,
        tokens: mpsc::Sender<String>,
    ) -> Result<Answer, AssistantError> {
        if question.sources.is_empty() {
            // Nothing to ground an answer on: no call, the plain truth.
            tokens
                .send(NO_MATCH.to_owned())
                .await
                .map_err(|_| AssistantError::Cancelled)?;
            return Ok(Answer {
                text: NO_MATCH.into(),
                cited: Vec::new(),
                no_match: true,
                close_suggested: false,
            });
        }
        let body = json!({
            "model": self.config.model,
            "stream": true,
            "messages": Self::messages(question),
        });
        let mut request = self.http.post(&self.endpoint).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| AssistantError::Provider(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            let excerpt: String = text.chars().take(EXCERPT_CHARS).collect();
            return Err(AssistantError::Provider(format!("{status}: {excerpt}")));
        }
        let mut events = response.bytes_stream().eventsource();
        let mut text = String::new();
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| AssistantError::Protocol(e.to_string()))?;
            if event.data.trim() == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(&event.data)
                .map_err(|e| AssistantError::Protocol(format!("a chunk is not JSON: {e}")))?;
            let choices = chunk
                .get("choices")
                .and_then(Value::as_array)
                .ok_or_else(|| AssistantError::Protocol("a chunk without choices".into()))?;
            let piece = choices
                .first()
                .and_then(|c| c.pointer("/delta/content"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !piece.is_empty() {
                text.push_str(piece);
                tokens
                    .send(piece.to_owned())
                    .await
                    .map_err(|_| AssistantError::Cancelled)?;
            }
        }
        if text.trim().is_empty() {
            return Err(AssistantError::Protocol("an empty answer".into()));
        }
        let cited = citations(&text, question.sources.len());
        Ok(Answer {
            no_match: cited.is_empty() && text.to_lowercase().contains("human"),
            text,
            cited,
            close_suggested: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Source, Turn};
    use axum::extract::State;
    use axum::response::IntoResponse;
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    /// A request as the fake saw it: its bearer, its body.
    type Request = (Option<String>, Value);

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<Request>>>);

    #[derive(Clone)]
    struct Fake {
        seen: Seen,
        status: u16,
        body: String,
    }

    async fn completions(
        State(fake): State<Fake>,
        headers: axum::http::HeaderMap,
        axum::Json(request): axum::Json<Value>,
    ) -> impl IntoResponse {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        fake.seen.0.lock().unwrap().push((bearer, request));
        (
            axum::http::StatusCode::from_u16(fake.status).unwrap(),
            [("content-type", "text/event-stream")],
            fake.body,
        )
    }

    fn sse(tokens: &[&str]) -> String {
        let mut body = String::new();
        for t in tokens {
            let chunk = json!({ "choices": [{ "index": 0, "delta": { "content": t } }] });
            body.push_str(&format!("data: {chunk}\n\n"));
        }
        body + "data: [DONE]\n\n"
    }

    async fn fake(status: u16, body: String) -> (String, Seen) {
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(Fake {
                seen: seen.clone(),
                status,
                body,
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    fn question(sources: Vec<Source>) -> Question {
        Question {
            text: "How do I reset my password?".into(),
            history: vec![Turn {
                from_customer: true,
                text: "Hello".into(),
            }],
            sources,
        }
    }

    fn article() -> Source {
        Source {
            article_id: "kb-pw".into(),
            version: 3,
            title: "Resetting your password".into(),
            body: "Open Settings and choose Security.".into(),
            score: 2.0,
        }
    }

    fn provider(url: String) -> OpenAiCompatible {
        OpenAiCompatible::new(OpenAiConfig {
            url,
            model: "fake-model".into(),
            api_key: Some("sk-secret".into()),
        })
        .unwrap()
    }

    async fn ask(
        p: &OpenAiCompatible,
        q: &Question,
    ) -> (Result<Answer, AssistantError>, Vec<String>) {
        let (tx, mut rx) = mpsc::channel(256);
        let answer = p.respond(q, tx).await;
        let mut tokens = Vec::new();
        while let Some(t) = rx.recv().await {
            tokens.push(t);
        }
        (answer, tokens)
    }

    #[tokio::test]
    async fn streams_a_grounded_answer_and_parses_its_citations() {
        let (url, seen) = fake(200, sse(&["Open ", "Settings ", "[1]."])).await;
        let p = provider(url);
        let (answer, tokens) = ask(&p, &question(vec![article()])).await;
        let answer = answer.unwrap();
        assert_eq!(tokens, vec!["Open ", "Settings ", "[1]."]);
        assert_eq!(answer.text, "Open Settings [1].");
        assert_eq!(answer.cited, vec![0]);
        assert!(!answer.no_match);
        let seen = seen.0.lock().unwrap().clone();
        let (bearer, request) = &seen[0];
        assert_eq!(bearer.as_deref(), Some("Bearer sk-secret"));
        assert_eq!(request["model"], "fake-model");
        assert_eq!(request["stream"], true);
        let messages = request["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert!(
            messages[0]["content"]
                .as_str()
                .unwrap()
                .contains("[1] Resetting your password\nOpen Settings and choose Security.")
        );
        assert_eq!(messages[1], json!({ "role": "user", "content": "Hello" }));
        assert_eq!(messages[2]["content"], "How do I reset my password?");
    }

    #[tokio::test]
    async fn an_error_status_is_a_provider_error_without_the_key() {
        let (url, _) = fake(500, "overloaded".into()).await;
        let (answer, _) = ask(&provider(url), &question(vec![article()])).await;
        match answer {
            Err(AssistantError::Provider(message)) => {
                assert!(
                    message.contains("500") && message.contains("overloaded"),
                    "{message}"
                );
                assert!(!message.contains("sk-secret"));
            }
            other => panic!("expected a provider error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn garbage_is_a_protocol_error() {
        let (url, _) = fake(200, "data: {not json\n\n".into()).await;
        let (answer, _) = ask(&provider(url), &question(vec![article()])).await;
        assert!(
            matches!(answer, Err(AssistantError::Protocol(_))),
            "{answer:?}"
        );
    }

    #[tokio::test]
    async fn without_sources_no_request_is_made() {
        let (url, seen) = fake(200, sse(&["anything"])).await;
        let (answer, tokens) = ask(&provider(url), &question(vec![])).await;
        let answer = answer.unwrap();
        assert!(answer.no_match);
        assert_eq!(tokens.concat(), NO_MATCH);
        assert!(seen.0.lock().unwrap().is_empty());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let p = provider("http://127.0.0.1:9/v1".into());
        assert!(!format!("{p:?}").contains("sk-secret"));
    }
}
