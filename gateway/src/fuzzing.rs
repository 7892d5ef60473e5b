//! What the fuzz targets feed, and the invariants they check.
//!
//! One function per target of the `fuzz` crate (cargo fuzz, libFuzzer, on
//! nightly: see FUZZING.md), each taking one raw input. The tests below run
//! every committed input of every target (`fuzz/seeds`, `fuzz/regressions`
//! and `fuzz/corpus`) through the same functions on stable, so an input
//! the fuzzer once found keeps being checked by `cargo test`, with or
//! without nightly.
//!
//! Inputs of the Socket.IO targets (`lvng`, `buddy`, `chatbot`,
//! `helpdesk`) are the event name, a line break and the JSON payload
//! (anything that is not JSON arrives as no payload). The helpdesk target
//! also takes `connect`, a line break, the query string, a line break and
//! the handshake's JSON. The stream target's input is one text frame. The
//! JWT target's first byte chooses between a token as text (even) and
//! claims as JSON, signed with the right key (odd).
//!
//! Every target checks, besides "never panics": decoding is deterministic;
//! the payload re-encoded as JSON decodes to the same outcome; a payload
//! with a lone UTF-16 surrogate escape never decodes at all; and a refusal
//! is a client error (never an internal one) whose helpdesk envelope
//! carries its code.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domain::actor::{Actor, Role};
use domain::ids::{TenantId, UserId};
use serde_json::{Value, json};

use crate::auth::{self, AuthError, Authenticator};
use crate::config::{Config, Secret};
use crate::dialect::Inbound;
use crate::dialects::{self, Decoded, buddy, chatbot, helpdesk, lvng, stream};
use crate::error::{ErrorCode, WireError};

/// What a target does with one input.
pub type Feed = fn(&[u8]);

/// Every target: its name (a folder of `fuzz/corpus/`) and what it feeds.
pub const TARGETS: [(&str, Feed); 6] = [
    ("lvng", lvng),
    ("buddy", buddy),
    ("chatbot", chatbot),
    ("helpdesk", helpdesk),
    ("stream", stream),
    ("jwt", jwt),
];

/// The tenant of the callers the Socket.IO targets decode as.
pub const TENANT: &str = "tenant-123";
/// The customer and the agent the Socket.IO targets decode as (the seeds'
/// example users), so that access checks on payloads are exercised.
pub const CUSTOMER: &str = "user123";
pub const AGENT: &str = "agent456";

pub fn lvng(input: &[u8]) {
    socket_event(input, lvng::decode);
}

pub fn buddy(input: &[u8]) {
    socket_event(input, buddy::decode);
}

pub fn chatbot(input: &[u8]) {
    socket_event(input, chatbot::decode);
}

/// An event of `/helpdesk`, or `connect` with its query and handshake.
pub fn helpdesk(input: &[u8]) {
    let (name, rest) = split_line(input);
    if name == "connect" {
        let (query, handshake) = split_line(rest.as_bytes());
        let handshake = json_or_null(handshake.as_bytes());
        let query = (!query.is_empty()).then_some(query.as_str());
        let first = helpdesk::presented(query, &handshake).map_err(|r| r.to_string());
        let again = helpdesk::presented(query, &handshake).map_err(|r| r.to_string());
        assert_eq!(
            format!("{first:?}"),
            format!("{again:?}"),
            "not deterministic"
        );
        if let Err(refusal) = first {
            // `connect_error`'s payload: a readable message, and the seed's
            // envelope (with the same message) as its data.
            let payload: Value = serde_json::from_str(&refusal).expect("a refusal is JSON");
            let envelope = &payload["data"];
            assert_eq!(envelope["status_code"], 400, "{refusal}");
            assert!(payload["message"].is_string(), "{refusal}");
            assert_eq!(envelope["message"], payload["message"], "{refusal}");
            assert_eq!(envelope["data"]["code"], "VALIDATION_ERROR", "{refusal}");
        }
        return;
    }
    let data = json_or_null(rest.as_bytes());
    let decode = |data: &Value| outcome(helpdesk::decode(&name, data));
    let first = decode(&data);
    assert_eq!(first, decode(&data), "not deterministic");
    assert_eq!(
        first,
        decode(&reencoded(&data)),
        "re-encoded payload decodes differently"
    );
    if let Some(Err(error)) = &first {
        // Every refusal of this namespace is a 4xx envelope.
        assert!(check_refusal(error) < 500, "{error:?}");
    }
}

/// One text frame of the stream dialect.
pub fn stream(input: &[u8]) {
    // WebSocket text frames are UTF-8 by definition.
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let decode = |text: &str| stream::decode(text).map(|d| format!("{d:?}"));
    let first = decode(text);
    assert_eq!(first, decode(text), "not deterministic");
    if has_lone_surrogate_escape(input) {
        assert!(first.is_err(), "a lone surrogate was decoded: {first:?}");
    }
    match &first {
        Ok(_) => {
            let value: Value = serde_json::from_str(text).expect("decoded frames are JSON");
            let again = decode(&reencoded(&value).to_string());
            assert_eq!(first, again, "re-encoded frame decodes differently");
        }
        Err(error) => {
            check_refusal(error);
            let frame = stream::error_frame(error);
            assert_eq!(frame["type"], "error");
            assert_eq!(frame["code"], error.code.as_str());
        }
    }
}

/// A token (even first byte), or claims signed with the right key (odd).
pub fn jwt(input: &[u8]) {
    let Some((mode, rest)) = input.split_first() else {
        return;
    };
    let auth = &*AUTHENTICATOR;
    if mode % 2 == 0 {
        let text = String::from_utf8_lossy(rest);
        // Credential extraction never panics, whatever the header or query.
        let _ = auth::bearer(&text);
        let _ = auth::query_token(&text);
        match auth.verify(&text) {
            // Only a token signed with the secret verifies: the fuzzer
            // cannot forge one.
            Ok(actor) => panic!("an unsigned token verified as {actor:?}"),
            Err(error) => assert_eq!(error.code(), ErrorCode::AuthError),
        }
        return;
    }
    let mut claims = json_or_null(rest);
    if let Value::Object(map) = &mut claims {
        // A valid lifetime unless the input says otherwise, so that the
        // claims themselves are what is tested.
        map.entry("exp").or_insert(json!(in_ten_minutes()));
    }
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let Ok(token) = jsonwebtoken::encode(&header, &claims, &key) else {
        return;
    };
    match auth.verify(&token) {
        Ok(actor) => {
            // The actor is made of valid parts, and a token minted for it
            // verifies as the same actor.
            assert!(UserId::parse(actor.user.as_str()).is_ok());
            assert!(TenantId::parse(actor.tenant.as_str()).is_ok());
            let name = actor.name.as_deref();
            assert!(name.is_none_or(|n| domain::message::display_name(n).as_deref() == Some(n)));
            let again = auth
                .issue(&actor, Duration::from_secs(600))
                .expect("an HS256 authenticator issues tokens");
            assert_eq!(auth.verify(&again).as_ref(), Ok(&actor));
        }
        Err(error) => assert!(matches!(error, AuthError::Invalid(_)), "{error:?}"),
    }
}

/// The HS256 secret of the JWT target.
const JWT_SECRET: &str = "fuzzing-secret-fuzzing-secret-32b";

static AUTHENTICATOR: LazyLock<Authenticator> = LazyLock::new(|| {
    let mut config = Config::for_database("sqlite::memory:");
    config.jwt_secret = Some(Secret::new(JWT_SECRET));
    Authenticator::from_config(&config)
        .expect("a valid configuration")
        .0
});

fn in_ten_minutes() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() + 600)
}

/// The callers every Socket.IO event is decoded as.
fn callers() -> [Actor; 2] {
    let actor = |user: &str, role| Actor {
        user: UserId::parse(user).expect("a valid user"),
        tenant: TenantId::parse(TENANT).expect("a valid tenant"),
        role,
        name: None,
    };
    [actor(CUSTOMER, Role::Customer), actor(AGENT, Role::Agent)]
}

type Decoder = fn(&Inbound) -> Option<Result<Decoded, WireError>>;

fn socket_event(input: &[u8], decode: Decoder) {
    let (event, rest) = split_line(input);
    let data = json_or_null(rest.as_bytes());
    if has_lone_surrogate_escape(rest.as_bytes()) {
        assert!(data.is_null(), "a lone surrogate was decoded");
    }
    let again = reencoded(&data);
    for actor in callers() {
        let inbound = |data| Inbound {
            event: &event,
            data,
            actor: &actor,
        };
        let first = outcome(decode(&inbound(&data)));
        assert_eq!(first, outcome(decode(&inbound(&data))), "not deterministic");
        assert_eq!(
            first,
            outcome(decode(&inbound(&again))),
            "re-encoded payload decodes differently"
        );
        // Namespace `/` routes an event to the first dialect that knows it:
        // no event may belong to two.
        let owners = [lvng::decode, buddy::decode, chatbot::decode]
            .iter()
            .filter(|d| d(&inbound(&data)).is_some())
            .count();
        assert!(owners <= 1, "{event:?} belongs to {owners} dialects");
        assert_eq!(
            dialects::decode(&inbound(&data)).is_some(),
            owners == 1,
            "{event:?} is routed otherwise than decoded"
        );
        if let Some(Err(error)) = &first {
            check_refusal(error);
        }
    }
}

/// A decoding outcome in a comparable form.
fn outcome(decoded: Option<Result<Decoded, WireError>>) -> Option<Result<String, WireError>> {
    decoded.map(|r| r.map(|d| format!("{d:?}")))
}

/// A refusal of a decoder: a client's error with a code, whatever dialect
/// shows it.
fn check_refusal(error: &WireError) -> u64 {
    let code = error.code.as_str();
    assert!(
        !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "{error:?}"
    );
    assert!(error.status().is_client_error(), "{error:?}");
    let body = serde_json::to_value(error).expect("errors serialize");
    assert_eq!(body["code"], code);
    let envelope = helpdesk::error_envelope("sid", error);
    assert_eq!(envelope["data"]["code"], code);
    assert_eq!(envelope["message"], error.message.as_str());
    let status = envelope["status_code"].as_u64().unwrap_or_default();
    // Codes only other dialects send show as 500 in an envelope.
    assert!((400..600).contains(&status), "{envelope}");
    status
}

/// The value written as JSON and read back.
fn reencoded(value: &Value) -> Value {
    let text = serde_json::to_string(value).expect("values serialize");
    serde_json::from_str(&text).expect("what serde_json writes, it reads")
}

/// The first line (lossy UTF-8) and the rest.
fn split_line(input: &[u8]) -> (String, String) {
    let (line, rest) = match input.iter().position(|b| *b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    (
        String::from_utf8_lossy(line).into_owned(),
        String::from_utf8_lossy(rest).into_owned(),
    )
}

/// A payload that is not JSON arrives as no payload.
fn json_or_null(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// Does `json` hold, inside a string, a `\uD800`–`\uDFFF` escape that is
/// not half of a surrogate pair? Such text is not valid JSON for a Rust
/// string, and must never decode.
pub fn has_lone_surrogate_escape(json: &[u8]) -> bool {
    let unit = |at: usize| -> Option<u16> {
        let hex = json.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let (mut at, mut in_string, mut pending_high) = (0, false, false);
    while at < json.len() {
        let escape = (in_string && json[at] == b'\\').then(|| {
            let code = (json.get(at + 1) == Some(&b'u'))
                .then(|| unit(at + 2))
                .flatten();
            (code, if code.is_some() { 6 } else { 2 })
        });
        let code = escape.and_then(|(code, _)| code);
        let low = code.is_some_and(|c| (0xDC00..0xE000).contains(&c));
        let high = code.is_some_and(|c| (0xD800..0xDC00).contains(&c));
        if pending_high != low {
            // A high half not followed by a low one, or a low one alone.
            return true;
        }
        pending_high = high;
        if json[at] == b'"' && escape.is_none() {
            in_string = !in_string;
        }
        at += escape.map_or(1, |(_, len)| len);
    }
    pending_high
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A target's committed inputs: the hand-written seeds (from the seed
    /// documents' examples), the regressions (inputs that once failed) and
    /// the minimized corpus the fuzzer grew from them.
    fn inputs(target: &str) -> Vec<PathBuf> {
        let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut files: Vec<PathBuf> = ["seeds", "regressions", "corpus"]
            .iter()
            .map(|kind| fuzz.join(kind).join(target))
            .filter(|folder| folder.is_dir())
            .flat_map(|folder| std::fs::read_dir(folder).expect("a readable folder"))
            .map(|entry| entry.expect("a readable folder").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_committed_input_of_every_fuzz_target_keeps_its_invariants() {
        for (target, feed) in TARGETS {
            let files = inputs(target);
            assert!(files.len() >= 5, "{target} has too few inputs: {files:?}");
            for file in files {
                let input = std::fs::read(&file).expect("a readable input");
                let outcome = std::panic::catch_unwind(|| feed(&input));
                assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            }
        }
    }

    #[test]
    fn lone_surrogate_escapes_are_found_and_pairs_are_not() {
        for lone in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""a\ud83dz""#,
            r#""\ud83d\u0041""#,
            r#""\ude00\ud83d""#,
            r#"{"content":"\uDBFF"}"#,
        ] {
            assert!(has_lone_surrogate_escape(lone.as_bytes()), "{lone}");
            assert!(serde_json::from_str::<Value>(lone).is_err(), "{lone}");
        }
        for fine in [
            r#""\ud83d\ude00""#,
            r#""\\ud800""#,
            r#""\u00e9 \n""#,
            r#"{"\ud83d\ude00":1}"#,
            "\"\u{1F600}\"",
        ] {
            assert!(!has_lone_surrogate_escape(fine.as_bytes()), "{fine}");
            assert!(serde_json::from_str::<Value>(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn every_event_of_namespace_slash_has_a_decoder() {
        let [customer, _] = callers();
        // The events each dialect's module documentation names.
        for event in [
            "conversation:join",
            "conversation:rejoin",
            "message:send",
            "message:read:batch",
            "presence:heartbeat",
            "call:transcription",
            "swarm:unsubscribe",
            "join_room",
            "send_message",
            "leave_dashboard",
            "join-conversation",
            "request-rag-response-stream",
            "update-conversation-metadata",
            "error",
        ] {
            let data = Value::Null;
            let input = Inbound {
                event,
                data: &data,
                actor: &customer,
            };
            assert!(dialects::decode(&input).is_some(), "{event}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn a_lone_surrogate_escape_is_refused_by_every_decoder(
                text in "[a-z ]{0,10}",
                unit in 0xD800u16..0xE000,
            ) {
                let content = format!("{text}\\u{unit:04x}{text}");
                let frame = format!(r#"{{"type":"chat","content":"{content}"}}"#);
                prop_assert!(has_lone_surrogate_escape(frame.as_bytes()));
                // Socket.IO payloads are JSON: such a payload never is.
                prop_assert!(serde_json::from_str::<Value>(&frame).is_err());
                let refused = stream::decode(&frame).unwrap_err();
                prop_assert_eq!(refused.code, ErrorCode::ValidationError);
                for target in [lvng, chatbot, helpdesk, stream] {
                    target(frame.as_bytes());
                }
            }

            #[test]
            fn a_surrogate_pair_escape_decodes_to_its_character(
                c in proptest::char::range('\u{10000}', '\u{10FFFF}'),
            ) {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units);
                let frame = format!(
                    r#"{{"type":"chat","content":"x\u{:04x}\u{:04x}"}}"#,
                    units[0], units[1]
                );
                prop_assert!(!has_lone_surrogate_escape(frame.as_bytes()));
                let decoded = format!("{:?}", stream::decode(&frame).unwrap());
                let expected = format!("{:?}", format!("x{c}"));
                prop_assert!(decoded.contains(&expected), "{} lacks {}", decoded, expected);
            }

            #[test]
            fn arbitrary_inputs_keep_every_invariant(
                event in "[a-z_:-]{1,30}",
                payload in "\\PC{0,80}",
                raw in prop::collection::vec(any::<u8>(), 0..200),
            ) {
                let input = format!("{event}\n{payload}");
                for (_, feed) in TARGETS {
                    feed(input.as_bytes());
                    feed(&raw);
                }
            }
        }
    }
}
