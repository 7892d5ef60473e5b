//! Who is calling: JWT verification and credential extraction.
//!
//! Tokens are HS256 with `PARLEY_JWT_SECRET`, or RS256/ES256 with a PEM
//! public key. Exactly one algorithm is accepted (no `none`, no switching
//! families), `exp` and `sub` are required, and `iss`/`aud` are checked when
//! configured. Claims: `sub`, `tenant` (or the seeds' `tenantId`,
//! `organizationId`, `orgId`, `customerId`), `role` (default `customer`),
//! and an optional `name`.

use domain::actor::{Actor, Role};
use domain::ids::{TenantId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::GatewayError;
use crate::config::{Config, Secret};

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
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "NO_AUTH",
            AuthError::Invalid(_) => "AUTH_ERROR",
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
struct Claims {
    sub: String,
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
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 30;
        if let Some(issuer) = &config.jwt_issuer {
            validation.set_issuer(&[issuer]);
        }
        match &config.jwt_audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
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
        let invalid = |e: domain::DomainError| AuthError::Invalid(e.to_string());
        let tenant = claims
            .tenant
            .ok_or_else(|| AuthError::Invalid("the token names no tenant".into()))?;
        Ok(Actor {
            user: UserId::parse(claims.sub).map_err(invalid)?,
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
            sub: actor.user.to_string(),
            tenant: Some(actor.tenant.to_string()),
            role: Some(actor.role.to_string()),
            name: actor.name.clone(),
            exp: Some(exp.as_secs()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, encoding).ok()
    }
}

/// A reason a client can act on; never the token itself.
fn reason(error: &jsonwebtoken::errors::Error) -> String {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet".into(),
        ErrorKind::InvalidSignature => "the signature does not verify".into(),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the token's algorithm is not accepted".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the token has no {claim:?} claim"),
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
