//! The embedded responder: extractive answers from the retrieved articles,
//! no network. The best sentences (by the question's content terms they
//! share) of the best articles, then the articles cited.

use async_trait::async_trait;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::text::{sentences, terms, tokens, words};
use crate::{Answer, AssistantError, Question, Responder};

/// Sentences an answer quotes at most.
const SENTENCES: usize = 3;

/// What the assistant says when the articles do not cover the question.
pub const NO_MATCH: &str = "I couldn't find anything about that in our help articles. \
                            Would you like me to connect you with a human agent?";
const CLOSING: &str = "Glad I could help! If that solves it, you can close this conversation; \
                       otherwise, just ask.";

/// Words that say the customer's issue is solved.
const SOLVED: &[&str] = &[
    "thanks", "thank", "solved", "fixed", "worked", "works", "resolved", "perfect", "great",
];

#[derive(Debug, Clone, Default)]
pub struct Embedded {
    delay: Duration,
}

impl Embedded {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pause between streamed words (a typing pace; tests of reconnects
    /// mid-answer slow it down).
    pub fn with_token_delay(self, delay: Duration) -> Self {
        Self { delay }
    }

    /// The answer, before it is streamed.
    pub fn compose(question: &Question) -> Answer {
        if says_solved(&question.text) {
            return Answer {
                text: CLOSING.into(),
                cited: Vec::new(),
                no_match: false,
                close_suggested: true,
            };
        }
        let asked = terms(&question.text);
        // (score, source index, order in source, sentence)
        let mut picked: Vec<(usize, usize, usize, String)> = Vec::new();
        for (index, source) in question.sources.iter().enumerate() {
            for (order, sentence) in sentences(&source.body).into_iter().enumerate() {
                let shared = terms(&sentence).intersection(&asked).count();
                if shared > 0 {
                    picked.push((shared, index, order, sentence));
                }
            }
        }
        if picked.is_empty() {
            return Answer {
                text: NO_MATCH.into(),
                cited: Vec::new(),
                no_match: true,
                close_suggested: false,
            };
        }
        // Most shared terms first; ties to the better source, then to the
        // article's own order.
        picked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        picked.truncate(SENTENCES);
        // Read in the articles' order, which keeps steps in sequence.
        picked.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)));
        let cited: Vec<usize> = picked
            .iter()
            .map(|p| p.1)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let body: Vec<&str> = picked.iter().map(|p| p.3.as_str()).collect();
        let sources: Vec<String> = cited
            .iter()
            .enumerate()
            .map(|(n, i)| format!("[{}] {}", n + 1, question.sources[*i].title))
            .collect();
        Answer {
            text: format!("{}\n\nSources: {}", body.join(" "), sources.join("; ")),
            cited,
            no_match: false,
            close_suggested: false,
        }
    }
}

/// A short message of thanks or of a problem gone (not a new question).
fn says_solved(text: &str) -> bool {
    let words = words(text);
    words.len() <= 12
        && !text.contains('?')
        && words.iter().any(|w| SOLVED.contains(&w.as_str()))
        && !words
            .iter()
            .any(|w| matches!(w.as_str(), "not" | "didnt" | "doesnt" | "no" | "still"))
}

#[async_trait]
impl Responder for Embedded {
    fn provider(&self) -> &str {
        "embedded"
    }

    fn model(&self) -> Option<&str> {
        None
    }

    async fn respond(
        &self,
        question: &Question,
        sink: mpsc::Sender<String>,
    ) -> Result<Answer, AssistantError> {
        let answer = Self::compose(question);
        for (i, token) in tokens(&answer.text).into_iter().enumerate() {
            if i > 0 && !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            sink.send(token)
                .await
                .map_err(|_| AssistantError::Cancelled)?;
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;

    fn source(id: &str, title: &str, body: &str) -> Source {
        Source {
            article_id: id.into(),
            version: 1,
            title: title.into(),
            body: body.into(),
            score: 1.0,
        }
    }

    fn question(text: &str, sources: Vec<Source>) -> Question {
        Question {
            text: text.into(),
            history: Vec::new(),
            sources,
        }
    }

    async fn stream(q: &Question) -> (Answer, Vec<String>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let answer = Embedded::new().respond(q, tx).await.unwrap();
        let mut tokens = Vec::new();
        while let Some(t) = rx.recv().await {
            tokens.push(t);
        }
        (answer, tokens)
    }

    #[tokio::test]
    async fn answers_from_the_matching_article_and_cites_it() {
        let q = question(
            "How do I reset my password?",
            vec![
                source("kb-ship", "Shipping", "Orders ship in two days."),
                source(
                    "kb-pw",
                    "Resetting your password",
                    "To reset your password, open Settings. Choose Security. Colours are blue.",
                ),
            ],
        );
        let (answer, tokens) = stream(&q).await;
        assert_eq!(answer.cited, vec![1]);
        assert!(
            answer
                .text
                .starts_with("To reset your password, open Settings."),
            "{answer:?}"
        );
        assert!(!answer.text.contains("Colours"), "{answer:?}");
        assert!(
            answer
                .text
                .ends_with("Sources: [1] Resetting your password"),
            "{answer:?}"
        );
        assert!(!answer.no_match && !answer.close_suggested);
        assert!(tokens.len() > 5);
        assert_eq!(tokens.concat(), answer.text, "the tokens make the answer");
    }

    #[tokio::test]
    async fn nothing_matching_says_so_and_offers_a_human() {
        let q = question(
            "Can I pay with cryptocurrency?",
            vec![source("kb-ship", "Shipping", "Orders ship in two days.")],
        );
        let (answer, _) = stream(&q).await;
        assert!(answer.no_match);
        assert!(answer.cited.is_empty());
        assert_eq!(answer.text, NO_MATCH);
        let (none, _) = stream(&question("Anything?", vec![])).await;
        assert!(none.no_match);
    }

    #[tokio::test]
    async fn thanks_suggest_closing() {
        let (answer, _) = stream(&question("Thanks, that worked!", vec![])).await;
        assert!(answer.close_suggested);
        assert!(!answer.no_match);
        let (still, _) = stream(&question("Thanks but it still does not work", vec![])).await;
        assert!(!still.close_suggested);
    }

    #[tokio::test]
    async fn a_listener_that_goes_away_cancels() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let q = question(
            "reset password",
            vec![source("a", "A", "Reset the password here.")],
        );
        assert!(matches!(
            Embedded::new().respond(&q, tx).await,
            Err(AssistantError::Cancelled)
        ));
    }
}
