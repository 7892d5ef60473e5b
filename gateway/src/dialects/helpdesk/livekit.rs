//! LiveKit access tokens for voice calls with SATE (HS256, room =
//! `ticket_chat_id`).

use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use crate::error::WireError;

/// How long a LiveKit token lets its holder join.
pub(super) const TOKEN_TTL_SECS: i64 = 3600;

/// LiveKit's access-token claims (its `VideoGrant` in `video`).
#[derive(Serialize)]
pub(super) struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    name: &'a str,
    nbf: i64,
    exp: i64,
    jti: String,
    video: VideoGrant<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VideoGrant<'a> {
    room: &'a str,
    room_join: bool,
    can_publish: bool,
    can_subscribe: bool,
}

/// A LiveKit access token for `identity` to join `room`.
pub fn livekit_token(
    api_key: &str,
    secret: &str,
    identity: &str,
    name: &str,
    room: &str,
    now: i64,
) -> Result<String, WireError> {
    let claims = Claims {
        iss: api_key,
        sub: identity,
        name,
        nbf: now,
        exp: now + TOKEN_TTL_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
        video: VideoGrant {
            room,
            room_join: true,
            can_publish: true,
            can_subscribe: true,
        },
    };
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| WireError::internal(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::Value;

    #[test]
    fn a_livekit_token_verifies_with_the_secret_and_names_the_room() {
        let now = chrono::Utc::now().timestamp();
        let token = livekit_token(
            "APIkey",
            "s3cret-s3cret-s3cret-s3cret-32b!",
            "hd-ana",
            "Ana",
            "hd-1",
            now,
        )
        .unwrap();
        let mut validation = Validation::default();
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_secret(b"s3cret-s3cret-s3cret-s3cret-32b!"),
            &validation,
        )
        .unwrap();
        let claims = decoded.claims;
        assert_eq!(claims["iss"], "APIkey");
        assert_eq!(claims["sub"], "hd-ana");
        assert_eq!(claims["video"]["room"], "hd-1");
        assert_eq!(claims["video"]["roomJoin"], true);
        assert!(
            jsonwebtoken::decode::<Value>(
                &token,
                &DecodingKey::from_secret(b"another secret"),
                &validation
            )
            .is_err()
        );
    }
}
