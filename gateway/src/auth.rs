//! Who is calling: JWT verification and credential extraction.
//!
//! Tokens are HS256 with `PARLEY_JWT_SECRET`, or RS256/ES256 with a PEM
//! public key. Exactly one algorithm is accepted (no `none`, no switching
//! families), `exp` and `sub` are required, `nbf` is honoured, a token
//! issued (`iat`) in the future is refused, and `iss`/`aud` are checked when
//! configured; times allow the same small leeway ([`LEEWAY_SECS`]). Claims: `sub`, `tenant` (or the seeds' `tenantId`,
//! `organizationId`, `orgId`, `customerId`), `role` (default `customer`),
//! and an optional `name`.

use domain::actor::{Actor, Role};
use domain::ids::{TenantId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::GatewayError;
use crate::config::{Config, Secret};
use crate::error::ErrorCode;

/// Why a caller is not let in. `code()` is the wire code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "authentication required: pass a token in auth.token, an Authorization: Bearer header, or ?token="
    )]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl AuthError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Missing => ErrorCode::NoAuth,
            AuthError::Invalid(_) => ErrorCode::AuthError,
        }
    }
}

/// Clock skew allowed between the token's issuer and this server, for
/// `exp`, `nbf` and `iat` alike.
pub const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    /// Optional here for the same reason as `exp`: a token without it is
    /// refused by the validator, which says which claim is missing.
    #[serde(default)]
    sub: Option<String>,
    #[serde(
        default,
        alias = "tenantId",
        alias = "organizationId",
        alias = "orgId",
        alias = "customerId"
    )]
    tenant: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Optional here only so that the validator, which requires it, can say
    /// that it is missing rather than that the claims are malformed.
    #[serde(default)]
    exp: Option<u64>,
    /// When the token was issued; one from the future is refused (the
    /// validator does not look at it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

pub struct Authenticator {
    decoding: DecodingKey,
    validation: Validation,
    /// Present only for HS256: lets the gateway mint demo and test tokens.
    encoding: Option<EncodingKey>,
}

/// A secret the gateway made up because none was configured.
pub struct GeneratedSecret;

impl Authenticator {
    /// Build from configuration. With neither a secret nor a public key, a
    /// random secret is generated (and reported, so the caller can warn).
    pub fn from_config(config: &Config) -> Result<(Self, Option<GeneratedSecret>), GatewayError> {
        let (decoding, encoding, algorithm, generated) = match (
            &config.jwt_public_key,
            &config.jwt_secret,
        ) {
            (Some(path), _) => {
                let pem = std::fs::read(path).map_err(|e| {
                    GatewayError::Config(format!("PARLEY_JWT_PUBLIC_KEY {}: {e}", path.display()))
                })?;
                let (key, algorithm) = match config.jwt_algorithm.as_str() {
                    "RS256" => (DecodingKey::from_rsa_pem(&pem), Algorithm::RS256),
                    "ES256" => (DecodingKey::from_ec_pem(&pem), Algorithm::ES256),
                    other => {
                        return Err(GatewayError::Config(format!(
                            "PARLEY_JWT_ALGORITHM {other:?}: use RS256 or ES256 with a public key"
                        )));
                    }
                };
                let key =
                    key.map_err(|e| GatewayError::Config(format!("PARLEY_JWT_PUBLIC_KEY: {e}")))?;
                (key, None, algorithm, None)
            }
            (None, Some(secret)) => {
                if secret.expose().len() < 32 {
                    return Err(GatewayError::Config(
                        "PARLEY_JWT_SECRET must be at least 32 bytes".into(),
                    ));
                }
                let (d, e) = hmac_keys(secret);
                (d, Some(e), Algorithm::HS256, None)
            }
            (None, None) => {
                let bytes: [u8; 32] = rand::random();
                let secret =
                    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>());
                let (d, e) = hmac_keys(&secret);
                (d, Some(e), Algorithm::HS256, Some(GeneratedSecret))
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        // A configured issuer or audience must be present, not just right
        // when present: jsonwebtoken checks only the claims it is told are
        // required.
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &config.jwt_audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok((
            Self {
                decoding,
                validation,
                encoding,
            },
            generated,
        ))
    }

    /// Verify a token and turn its claims into an actor.
    pub fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| AuthError::Invalid(reason(&e)))?;
        let claims = data.claims;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS) {
            return Err(AuthError::Invalid(
                "the token was issued in the future (iat)".into(),
            ));
        }
        let invalid = |e: domain::DomainError| AuthError::Invalid(e.to_string());
        // The validator has made sure it is there.
        let sub = claims
            .sub
            .ok_or_else(|| AuthError::Invalid("missing claim sub".into()))?;
        let tenant = claims
            .tenant
            .ok_or_else(|| AuthError::Invalid("the token names no tenant".into()))?;
        Ok(Actor {
            user: UserId::parse(sub).map_err(invalid)?,
            tenant: TenantId::parse(tenant).map_err(invalid)?,
            role: claims
                .role
                .as_deref()
                .unwrap_or("customer")
                .parse::<Role>()
                .map_err(invalid)?,
            name: claims
                .name
                .as_deref()
                .and_then(domain::message::display_name),
        })
    }

    /// Mint a token for `actor`, valid for `ttl` (HS256 only).
    pub fn issue(&self, actor: &Actor, ttl: Duration) -> Option<String> {
        let encoding = self.encoding.as_ref()?;
        let exp = SystemTime::now().duration_since(UNIX_EPOCH).ok()? + ttl;
        let claims = Claims {
            sub: Some(actor.user.to_string()),
            tenant: Some(actor.tenant.to_string()),
            role: Some(actor.role.to_string()),
            name: actor.name.clone(),
            exp: Some(exp.as_secs()),
            iat: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding).ok()
    }
}

/// A reason a client can act on; never the token itself.
fn reason(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidSignature => "the signature does not verify".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the token's algorithm is not accepted".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("missing claim {claim}"),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".into(),
        ErrorKind::InvalidAudience => "the token's audience is not accepted".into(),
        ErrorKind::Json(_) => "the token's claims are malformed".into(),
        _ => "the token is malformed".into(),
    }
}

fn hmac_keys(secret: &Secret) -> (DecodingKey, EncodingKey) {
    (
        DecodingKey::from_secret(secret.expose().as_bytes()),
        EncodingKey::from_secret(secret.expose().as_bytes()),
    )
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The `token` parameter of a query string.
pub fn query_token(query: &str) -> Option<String> {
    query_param(query, "token")
}

/// A parameter of a query string, percent-decoded.
pub fn query_param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Secret;
    use domain::actor::Role;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use std::path::PathBuf;

    const SECRET: &str = "unit-test-secret-unit-test-secret!";

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    fn hs256(config: &mut Config) -> Authenticator {
        config.jwt_secret = Some(Secret::new(SECRET));
        Authenticator::from_config(config).unwrap().0
    }

    fn sign(algorithm: Algorithm, key: &EncodingKey, claims: Value) -> String {
        jsonwebtoken::encode(&Header::new(algorithm), &claims, key).unwrap()
    }

    fn claims(extra: Value) -> Value {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let mut claims = json!({ "sub": "ana", "tenant": "acme", "exp": exp });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    }

    #[test]
    fn an_hs256_token_becomes_an_actor_with_customer_as_the_default_role() {
        let auth = hs256(&mut Config::for_database("sqlite://x.db"));
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let actor = auth
            .verify(&sign(Algorithm::HS256, &key, claims(json!({}))))
            .unwrap();
        assert_eq!(
            (actor.user.as_str(), actor.tenant.as_str(), actor.role),
            ("ana", "acme", Role::Customer)
        );
        let named = claims(json!({ "role": "agent", "name": " Ana\u{0} " }));
        let actor = auth.verify(&sign(Algorithm::HS256, &key, named)).unwrap();
        assert_eq!(
            (actor.role, actor.name.as_deref()),
            (Role::Agent, Some("Ana"))
        );
    }

    #[test]
    fn the_seeds_names_for_the_tenant_claim_are_accepted() {
        let auth = hs256(&mut Config::for_database("sqlite://x.db"));
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        for alias in ["tenantId", "organizationId", "orgId", "customerId"] {
            let mut token_claims = claims(json!({}));
            let tenant = token_claims
                .as_object_mut()
                .unwrap()
                .remove("tenant")
                .unwrap();
            token_claims[alias] = tenant;
            let actor = auth
                .verify(&sign(Algorithm::HS256, &key, token_claims))
                .unwrap();
            assert_eq!(actor.tenant.as_str(), "acme", "{alias}");
        }
    }

    #[test]
    fn not_before_and_issued_at_in_the_future_are_refused_beyond_the_leeway() {
        let auth = hs256(&mut Config::for_database("sqlite://x.db"));
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let verify = |extra: Value| auth.verify(&sign(Algorithm::HS256, &key, claims(extra)));
        for (extra, reason) in [
            (json!({ "nbf": now + 3600 }), "not valid yet"),
            (json!({ "iat": now + 3600 }), "issued in the future"),
        ] {
            match verify(extra.clone()) {
                Err(AuthError::Invalid(message)) => assert!(message.contains(reason), "{message}"),
                other => panic!("{extra}: {other:?}"),
            }
        }
        // Clocks a little apart are within the leeway; the past is fine.
        let skew = LEEWAY_SECS - 5;
        assert!(verify(json!({ "nbf": now + skew, "iat": now + skew })).is_ok());
        assert!(verify(json!({ "nbf": now - 60, "iat": now - 60 })).is_ok());
    }

    #[test]
    fn a_token_without_sub_names_the_missing_claim() {
        let auth = hs256(&mut Config::for_database("sqlite://x.db"));
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let mut no_sub = claims(json!({}));
        no_sub.as_object_mut().unwrap().remove("sub");
        assert_eq!(
            auth.verify(&sign(Algorithm::HS256, &key, no_sub)),
            Err(AuthError::Invalid("missing claim sub".into()))
        );
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let mut config = Config::for_database("sqlite://x.db");
        config.jwt_issuer = Some("https://id.example".into());
        config.jwt_audience = Some("parley".into());
        let auth = hs256(&mut config);
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let good = claims(json!({ "iss": "https://id.example", "aud": "parley" }));
        assert!(auth.verify(&sign(Algorithm::HS256, &key, good)).is_ok());
        for bad in [
            json!({ "iss": "https://evil.example", "aud": "parley" }),
            json!({ "iss": "https://id.example", "aud": "other" }),
            json!({ "aud": "parley" }),
            json!({ "iss": "https://id.example" }),
        ] {
            let refused = auth.verify(&sign(Algorithm::HS256, &key, claims(bad.clone())));
            assert!(matches!(refused, Err(AuthError::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key_and_hs256_ones_do_not() {
        let mut config = Config::for_database("sqlite://x.db");
        config.jwt_public_key = Some(fixture("es256-test-public.pem"));
        config.jwt_algorithm = "ES256".into();
        // A secret configured beside the key must not open a second door.
        config.jwt_secret = Some(Secret::new(SECRET));
        let (auth, generated) = Authenticator::from_config(&config).unwrap();
        assert!(generated.is_none());
        let private = std::fs::read(fixture("es256-test-private.pem")).unwrap();
        let es256 = EncodingKey::from_ec_pem(&private).unwrap();
        let actor = auth
            .verify(&sign(Algorithm::ES256, &es256, claims(json!({}))))
            .unwrap();
        assert_eq!(actor.user.as_str(), "ana");
        // Algorithm confusion: HS256 "signed" with the public key's bytes.
        let public = std::fs::read(fixture("es256-test-public.pem")).unwrap();
        let confused = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(&public),
            claims(json!({})),
        );
        assert!(matches!(auth.verify(&confused), Err(AuthError::Invalid(_))));
        let hs = sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            claims(json!({})),
        );
        assert!(matches!(auth.verify(&hs), Err(AuthError::Invalid(_))));
        // Tokens cannot be minted without a secret of our own.
        assert!(
            auth.issue(&actor, std::time::Duration::from_secs(60))
                .is_none()
        );
    }

    #[test]
    fn short_secrets_and_unknown_algorithms_are_configuration_errors() {
        let mut config = Config::for_database("sqlite://x.db");
        config.jwt_secret = Some(Secret::new("too short"));
        assert!(matches!(
            Authenticator::from_config(&config),
            Err(GatewayError::Config(_))
        ));
        let mut config = Config::for_database("sqlite://x.db");
        config.jwt_public_key = Some(fixture("es256-test-public.pem"));
        config.jwt_algorithm = "none".into();
        assert!(matches!(
            Authenticator::from_config(&config),
            Err(GatewayError::Config(_))
        ));
    }

    #[test]
    fn bearer_headers_and_query_tokens_are_found() {
        assert_eq!(bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(query_token("EIO=4&token=a%2Bb&x=1"), Some("a+b".into()));
        assert_eq!(query_token("token="), None);
        assert_eq!(query_token("EIO=4"), None);
    }
}
