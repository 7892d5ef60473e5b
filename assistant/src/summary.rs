//! Extractive conversation summaries for `request-conversation-summary`.

use std::collections::HashMap;

use crate::Turn;
use crate::analysis::sentiment;
use crate::text::{sentences, terms};

/// Key points at most.
const KEY_POINTS: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub summary: String,
    pub key_points: Vec<String>,
    /// `positive`, `negative` or `neutral`: the customer's text overall.
    pub sentiment: String,
}

/// Who asked what and how it was answered; the most informative sentences
/// (by how often their terms recur in the conversation), the customer's
/// questions first; the customer's overall sentiment.
pub fn summarize(turns: &[Turn]) -> Summary {
    if turns.is_empty() {
        return Summary {
            summary: "No messages yet.".into(),
            key_points: Vec::new(),
            sentiment: "neutral".into(),
        };
    }
    let customer: Vec<&Turn> = turns.iter().filter(|t| t.from_customer).collect();
    let answers = turns.len() - customer.len();
    let mut frequency: HashMap<String, usize> = HashMap::new();
    for turn in turns {
        for term in terms(&turn.text) {
            *frequency.entry(term).or_default() += 1;
        }
    }
    // (is a customer question, score, order, sentence)
    let mut candidates: Vec<(bool, f64, usize, String)> = Vec::new();
    for turn in turns {
        for sentence in sentences(&turn.text) {
            let terms = terms(&sentence);
            if terms.is_empty() {
                continue;
            }
            let weight: usize = terms
                .iter()
                .map(|t| frequency.get(t).copied().unwrap_or(0))
                .sum();
            let score = weight as f64 / (terms.len() as f64).sqrt();
            let question = turn.from_customer && sentence.ends_with('?');
            if !candidates.iter().any(|c| c.3 == sentence) {
                candidates.push((question, score, candidates.len(), sentence));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)).then(a.2.cmp(&b.2)));
    let key_points: Vec<String> = candidates
        .into_iter()
        .take(KEY_POINTS)
        .map(|(_, _, _, s)| s)
        .collect();

    let customer_text: Vec<&str> = customer.iter().map(|t| t.text.as_str()).collect();
    let mood = sentiment(&customer_text.join(" ")).label;
    let opening = customer
        .first()
        .map(|t| first_sentence(&t.text))
        .unwrap_or_else(|| "nothing yet".into());
    let summary = format!(
        "{} message{} ({} from the customer, {} answer{}). The customer wrote: \"{}\"{}",
        turns.len(),
        plural(turns.len()),
        customer.len(),
        answers,
        plural(answers),
        opening,
        if answers == 0 {
            " — not answered yet.".to_owned()
        } else {
            format!(
                " The latest answer: \"{}\"",
                turns
                    .iter()
                    .rev()
                    .find(|t| !t.from_customer)
                    .map(|t| first_sentence(&t.text))
                    .unwrap_or_default()
            )
        }
    );
    Summary {
        summary,
        key_points,
        sentiment: mood.into(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn first_sentence(text: &str) -> String {
    sentences(text).into_iter().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(from_customer: bool, text: &str) -> Turn {
        Turn {
            from_customer,
            text: text.into(),
        }
    }

    #[test]
    fn a_summary_names_the_question_the_answer_and_the_mood() {
        let turns = [
            turn(
                true,
                "Hi. How do I reset my password? I am locked out and frustrated.",
            ),
            turn(
                false,
                "Open Settings and choose Security to reset your password.",
            ),
            turn(true, "That did not work, the reset link is broken."),
        ];
        let summary = summarize(&turns);
        assert!(
            summary
                .summary
                .starts_with("3 messages (2 from the customer, 1 answer)"),
            "{summary:?}"
        );
        assert!(summary.summary.contains("Open Settings"), "{summary:?}");
        assert_eq!(
            summary.key_points[0], "How do I reset my password?",
            "{summary:?}"
        );
        assert!(summary.key_points.len() <= KEY_POINTS);
        assert_eq!(summary.sentiment, "negative");
    }

    #[test]
    fn an_empty_conversation_has_nothing_to_summarise() {
        let summary = summarize(&[]);
        assert_eq!(summary.summary, "No messages yet.");
        assert!(summary.key_points.is_empty());
    }
}
