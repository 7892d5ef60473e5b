//! Words, terms and sentences: what retrieval, answers and summaries share.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::BTreeSet;

/// The lowercase words of `text` (letters and digits; apostrophes dropped).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.replace('\'', "").to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

pub use domain::knowledge::is_stop_word;

/// The stemmed content terms of `text`, each once.
pub fn terms(text: &str) -> BTreeSet<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    words(text)
        .into_iter()
        .filter(|w| !is_stop_word(w))
        .map(|w| stemmer.stem(&w).into_owned())
        .collect()
}

/// The sentences of `text`, trimmed: split after `.`, `!` or `?` followed
/// by white space, and at line breaks.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        for (i, &(at, c)) in chars.iter().enumerate() {
            let ends = matches!(c, '.' | '!' | '?')
                && chars
                    .get(i + 1)
                    .is_none_or(|&(_, next)| next.is_whitespace());
            if ends {
                let end = at + c.len_utf8();
                push_trimmed(&mut out, &line[start..end]);
                start = end;
            }
        }
        push_trimmed(&mut out, &line[start..]);
    }
    out
}

fn push_trimmed(out: &mut Vec<String>, piece: &str) {
    let piece = piece.trim();
    if piece.chars().any(char::is_alphanumeric) {
        out.push(piece.to_owned());
    }
}

/// `text` as stream tokens: each word with the white space before it, so
/// the tokens concatenated are `text` again.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            out.push(std::mem::take(&mut current));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stemmed_content_words() {
        let terms = terms("How do I reset my Passwords?");
        assert_eq!(
            terms.into_iter().collect::<Vec<_>>(),
            vec!["password", "reset"]
        );
    }

    #[test]
    fn sentences_split_on_terminators_and_lines() {
        assert_eq!(
            sentences("Open Settings. Choose v1.2 now!\nThen wait"),
            vec!["Open Settings.", "Choose v1.2 now!", "Then wait"]
        );
    }

    #[test]
    fn tokens_concatenate_to_the_text() {
        let text = "Hello  there,\nworld ";
        let tokens = tokens(text);
        assert_eq!(tokens.concat(), text);
        assert_eq!(tokens[0], "Hello");
        assert_eq!(tokens[1], "  there,");
    }
}
