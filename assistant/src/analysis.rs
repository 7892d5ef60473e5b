//! Text analysis for the chatbot seed's `request-ai-analysis`: language
//! (whatlang), sentiment (VADER), personal data (emails, phone numbers,
//! Luhn-checked card numbers, validated IBANs) and intent (a transparent
//! lexicon). All local, no network.

use regex::Regex;
use serde_json::{Value, json};
use std::sync::LazyLock;

use crate::text::words;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisType {
    Intent,
    Sentiment,
    Pii,
    Language,
}

impl AnalysisType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "intent" => Some(Self::Intent),
            "sentiment" => Some(Self::Sentiment),
            "pii" => Some(Self::Pii),
            "language" => Some(Self::Language),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intent => "intent",
            Self::Sentiment => "sentiment",
            Self::Pii => "pii",
            Self::Language => "language",
        }
    }
}

/// The seed's `ai-analysis-result` without its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub analysis_type: AnalysisType,
    pub result: Value,
    pub confidence: Option<f64>,
}

pub fn analyze(text: &str, kind: AnalysisType) -> Analysis {
    let (result, confidence) = match kind {
        AnalysisType::Language => language(text),
        AnalysisType::Sentiment => {
            let s = sentiment(text);
            let confidence =
                s.compound
                    .abs()
                    .max(if s.label == "neutral" { s.neutral } else { 0.0 });
            (
                json!({
                    "label": s.label,
                    "compound": round(s.compound),
                    "positive": round(s.positive),
                    "negative": round(s.negative),
                    "neutral": round(s.neutral),
                }),
                Some(round(confidence)),
            )
        }
        AnalysisType::Pii => pii(text),
        AnalysisType::Intent => intent(text),
    };
    Analysis {
        analysis_type: kind,
        result,
        confidence,
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn language(text: &str) -> (Value, Option<f64>) {
    match whatlang::detect(text) {
        Some(info) => {
            let lang = info.lang();
            (
                json!({
                    "language": iso639_1(lang.code()).unwrap_or(lang.code()),
                    "name": lang.eng_name(),
                    "script": info.script().name(),
                    "reliable": info.is_reliable(),
                }),
                Some(round(info.confidence())),
            )
        }
        None => (
            json!({ "language": "und", "name": "Undetermined", "script": null, "reliable": false }),
            Some(0.0),
        ),
    }
}

/// ISO 639-1 for the languages whatlang knows that have one.
fn iso639_1(code: &str) -> Option<&'static str> {
    const CODES: &[(&str, &str)] = &[
        ("afr", "af"),
        ("aka", "ak"),
        ("amh", "am"),
        ("ara", "ar"),
        ("aze", "az"),
        ("bel", "be"),
        ("ben", "bn"),
        ("bul", "bg"),
        ("cat", "ca"),
        ("ces", "cs"),
        ("cmn", "zh"),
        ("dan", "da"),
        ("deu", "de"),
        ("ell", "el"),
        ("eng", "en"),
        ("epo", "eo"),
        ("est", "et"),
        ("fin", "fi"),
        ("fra", "fr"),
        ("guj", "gu"),
        ("heb", "he"),
        ("hin", "hi"),
        ("hrv", "hr"),
        ("hun", "hu"),
        ("hye", "hy"),
        ("ind", "id"),
        ("ita", "it"),
        ("jav", "jv"),
        ("jpn", "ja"),
        ("kan", "kn"),
        ("kat", "ka"),
        ("khm", "km"),
        ("kor", "ko"),
        ("lat", "la"),
        ("lav", "lv"),
        ("lit", "lt"),
        ("mal", "ml"),
        ("mar", "mr"),
        ("mkd", "mk"),
        ("mya", "my"),
        ("nep", "ne"),
        ("nld", "nl"),
        ("nob", "nb"),
        ("ori", "or"),
        ("pan", "pa"),
        ("pes", "fa"),
        ("pol", "pl"),
        ("por", "pt"),
        ("ron", "ro"),
        ("rus", "ru"),
        ("sin", "si"),
        ("slk", "sk"),
        ("slv", "sl"),
        ("sna", "sn"),
        ("spa", "es"),
        ("srp", "sr"),
        ("swe", "sv"),
        ("tam", "ta"),
        ("tel", "te"),
        ("tgl", "tl"),
        ("tha", "th"),
        ("tuk", "tk"),
        ("tur", "tr"),
        ("ukr", "uk"),
        ("urd", "ur"),
        ("uzb", "uz"),
        ("vie", "vi"),
        ("yid", "yi"),
        ("zul", "zu"),
    ];
    CODES
        .iter()
        .find(|(three, _)| *three == code)
        .map(|(_, two)| *two)
}

/// VADER's scores and the label its authors' thresholds give.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentiment {
    pub label: &'static str,
    pub compound: f64,
    pub positive: f64,
    pub negative: f64,
    pub neutral: f64,
}

static VADER: LazyLock<vader_sentiment::SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(vader_sentiment::SentimentIntensityAnalyzer::new);

pub fn sentiment(text: &str) -> Sentiment {
    let scores = VADER.polarity_scores(text);
    let get = |k: &str| scores.get(k).copied().unwrap_or(0.0);
    let compound = get("compound");
    Sentiment {
        label: if compound >= 0.05 {
            "positive"
        } else if compound <= -0.05 {
            "negative"
        } else {
            "neutral"
        },
        compound,
        positive: get("pos"),
        negative: get("neg"),
        neutral: get("neu"),
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
        .expect("a valid regex")
});
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").expect("a valid regex"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z]{2}\d{2}(?:[ ]?[a-z0-9]){11,30}\b").expect("a valid regex")
});
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+|\b)\d[\d ().-]{5,18}\d\b").expect("a valid regex"));

/// One piece of personal data found.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    kind: &'static str,
    start: usize,
    end: usize,
}

fn pii(text: &str) -> (Value, Option<f64>) {
    let mut found: Vec<Found> = Vec::new();
    let take = |kind, start, end, found: &mut Vec<Found>| {
        // The first kind to claim a span keeps it (a card is no phone).
        if !found.iter().any(|f| start < f.end && f.start < end) {
            found.push(Found { kind, start, end });
        }
    };
    for m in EMAIL.find_iter(text) {
        take("email", m.start(), m.end(), &mut found);
    }
    for m in IBAN.find_iter(text) {
        // The pattern may run on into the next word: try the longest run
        // of groups that is a valid IBAN.
        let groups: Vec<(usize, &str)> = m
            .as_str()
            .split(' ')
            .scan(0, |at, g| {
                let start = *at;
                *at += g.len() + 1;
                Some((start, g))
            })
            .collect();
        for n in (1..=groups.len()).rev() {
            let compact: String = groups[..n].iter().map(|(_, g)| *g).collect();
            if compact.len() >= 15 && compact.to_uppercase().parse::<iban::Iban>().is_ok() {
                let (last_at, last) = groups[n - 1];
                take(
                    "iban",
                    m.start(),
                    m.start() + last_at + last.len(),
                    &mut found,
                );
                break;
            }
        }
    }
    for m in CARD.find_iter(text) {
        let digits: Vec<u32> = m.as_str().chars().filter_map(|c| c.to_digit(10)).collect();
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            take("card", m.start(), m.end(), &mut found);
        }
    }
    for m in PHONE.find_iter(text) {
        let digits = m.as_str().chars().filter(char::is_ascii_digit).count();
        let looks_like_date = m.as_str().matches(['-', '.']).count() == 2 && digits == 8;
        if (7..=15).contains(&digits) && !looks_like_date {
            take("phone", m.start(), m.end(), &mut found);
        }
    }
    found.sort_by_key(|f| f.start);
    let mut redacted = String::with_capacity(text.len());
    let mut last = 0;
    let entities: Vec<Value> = found
        .iter()
        .map(|f| {
            redacted.push_str(&text[last..f.start]);
            redacted.push_str(match f.kind {
                "email" => "[EMAIL]",
                "iban" => "[IBAN]",
                "card" => "[CARD]",
                _ => "[PHONE]",
            });
            last = f.end;
            json!({
                "type": f.kind,
                "value": mask(&text[f.start..f.end]),
                "start": f.start,
                "end": f.end,
            })
        })
        .collect();
    redacted.push_str(&text[last..]);
    let confidence = if found.is_empty() { 0.9 } else { 0.95 };
    (
        json!({ "found": !found.is_empty(), "entities": entities, "redacted": redacted }),
        Some(confidence),
    )
}

/// The Luhn checksum of card numbers.
pub fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// All but the last four letters or digits hidden.
fn mask(value: &str) -> String {
    let visible: usize = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count()
        .saturating_sub(4);
    let mut hidden = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() && hidden < visible {
                hidden += 1;
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// Intents and the words (or phrases) that signal them, strongest first.
const INTENTS: &[(&str, &[&str])] = &[
    (
        "request_human",
        &[
            "human",
            "agent",
            "person",
            "representative",
            "operator",
            "someone real",
        ],
    ),
    (
        "cancellation",
        &[
            "cancel",
            "cancellation",
            "unsubscribe",
            "terminate",
            "close my account",
        ],
    ),
    (
        "billing",
        &[
            "bill",
            "billing",
            "invoice",
            "charge",
            "charged",
            "refund",
            "payment",
            "pay",
            "price",
            "subscription",
        ],
    ),
    (
        "complaint",
        &[
            "terrible",
            "awful",
            "angry",
            "frustrated",
            "unacceptable",
            "worst",
            "complain",
            "complaint",
            "disappointed",
        ],
    ),
    (
        "technical_issue",
        &[
            "error",
            "bug",
            "crash",
            "broken",
            "not working",
            "doesnt work",
            "doesn't work",
            "fails",
            "failed",
            "issue",
        ],
    ),
    (
        "account",
        &[
            "password",
            "login",
            "log in",
            "sign in",
            "account",
            "username",
            "email address",
        ],
    ),
    ("thanks", &["thanks", "thank", "appreciate", "cheers"]),
    ("goodbye", &["bye", "goodbye", "see you"]),
    (
        "greeting",
        &[
            "hello",
            "hi",
            "hey",
            "good morning",
            "good afternoon",
            "good evening",
        ],
    ),
];

fn intent(text: &str) -> (Value, Option<f64>) {
    let lowered = words(text).join(" ");
    let padded = format!(" {lowered} ");
    for (intent, signals) in INTENTS {
        let matched: Vec<&str> = signals
            .iter()
            .filter(|s| padded.contains(&format!(" {} ", s.replace('\'', ""))))
            .copied()
            .collect();
        if !matched.is_empty() {
            let confidence = (0.6 + 0.15 * matched.len() as f64).min(0.95);
            return (
                json!({ "intent": intent, "matched": matched }),
                Some(round(confidence)),
            );
        }
    }
    if text.trim_end().ends_with('?') || lowered.starts_with("how ") || lowered.starts_with("what ")
    {
        return (json!({ "intent": "question", "matched": [] }), Some(0.6));
    }
    (json!({ "intent": "other", "matched": [] }), Some(0.3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(text: &str, kind: AnalysisType) -> Value {
        analyze(text, kind).result
    }

    #[test]
    fn emails_phones_cards_and_ibans_are_found_masked_and_redacted() {
        let text = "Mail ana@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111, \
                    IBAN GB82 WEST 1234 5698 7654 32.";
        let r = result(text, AnalysisType::Pii);
        assert_eq!(r["found"], true);
        let kinds: Vec<&str> = r["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["email", "phone", "card", "iban"], "{r}");
        assert_eq!(r["entities"][2]["value"], "**** **** **** 1111");
        assert_eq!(
            r["redacted"],
            "Mail [EMAIL], call [PHONE], card [CARD], IBAN [IBAN]."
        );
    }

    #[test]
    fn numbers_that_fail_their_checksums_are_not_cards_or_ibans() {
        let r = result(
            "card 4111 1111 1111 1112 and GB82 WEST 1234 5698 7654 33",
            AnalysisType::Pii,
        );
        let kinds: Vec<&str> = r["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert!(!kinds.contains(&"card") && !kinds.contains(&"iban"), "{r}");
        let clean = result("Nothing personal here, order 42.", AnalysisType::Pii);
        assert_eq!(clean["found"], false);
        assert_eq!(clean["entities"], json!([]));
    }

    #[test]
    fn luhn_accepts_valid_numbers_only() {
        let digits = |s: &str| s.chars().filter_map(|c| c.to_digit(10)).collect::<Vec<_>>();
        assert!(luhn(&digits("4111111111111111")));
        assert!(luhn(&digits("5500005555555559")));
        assert!(!luhn(&digits("4111111111111112")));
    }

    #[test]
    fn languages_are_detected() {
        for (text, code) in [
            (
                "Hello, I would like to change the password of my account please",
                "en",
            ),
            (
                "Bonjour, je voudrais changer le mot de passe de mon compte s'il vous plaît",
                "fr",
            ),
            (
                "Guten Tag, ich möchte bitte das Passwort meines Kontos ändern",
                "de",
            ),
        ] {
            assert_eq!(
                result(text, AnalysisType::Language)["language"],
                code,
                "{text}"
            );
        }
    }

    #[test]
    fn sentiment_has_the_right_polarity() {
        for (text, label) in [
            (
                "I love this, the support was great and very helpful!",
                "positive",
            ),
            (
                "I am frustrated and angry with this terrible service",
                "negative",
            ),
            ("The parcel is in the kitchen", "neutral"),
        ] {
            assert_eq!(
                result(text, AnalysisType::Sentiment)["label"],
                label,
                "{text}"
            );
        }
    }

    #[test]
    fn intents_follow_their_signals() {
        for (text, intent) in [
            ("Can I talk to a human please", "request_human"),
            ("I was charged twice, I want a refund", "billing"),
            ("The app shows an error and crashes", "technical_issue"),
            ("Hello there", "greeting"),
            ("Thanks a lot", "thanks"),
            ("Where is the nearest store?", "question"),
            ("Blue", "other"),
        ] {
            assert_eq!(
                result(text, AnalysisType::Intent)["intent"],
                intent,
                "{text}"
            );
        }
    }

    #[test]
    fn analysis_types_parse_only_the_seeds_names() {
        for name in ["intent", "sentiment", "pii", "language"] {
            assert_eq!(AnalysisType::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(AnalysisType::parse("astrology"), None);
    }
}
