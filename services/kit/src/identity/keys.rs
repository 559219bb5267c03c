//! Keys: the deployment's public keys as a JWKS document (RFC 7517), the
//! private key that signs tokens (PKCS#8 PEM), and a generator of
//! development key pairs.
//!
//! Only two kinds of key are accepted, each with one algorithm: Ed25519
//! (`kty` `OKP`, EdDSA) and P-256 (`kty` `EC`, ES256). A key's id is its
//! RFC 7638 thumbprint unless the JWKS names it otherwise, so a generated
//! signing key and its JWKS entry agree without being told.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The variable naming the private key's PEM file, for `louyu token`.
pub const SIGNING_KEY_FILE_VARIABLE: &str = "LOUYU_SIGNING_KEY_FILE";
/// The variable naming the `kid` of the signing key, when the JWKS does not
/// name it by its thumbprint.
pub const SIGNING_KEY_ID_VARIABLE: &str = "LOUYU_SIGNING_KEY_ID";

/// The two signature algorithms Louyu accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// Ed25519 signatures (`alg` `EdDSA`).
    EdDsa,
    /// ECDSA on P-256 with SHA-256 (`alg` `ES256`).
    Es256,
}

impl KeyAlgorithm {
    /// The `alg` of a JWS header or JWK.
    pub fn jws_name(self) -> &'static str {
        match self {
            KeyAlgorithm::EdDsa => "EdDSA",
            KeyAlgorithm::Es256 => "ES256",
        }
    }

    pub fn from_jws_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(KeyAlgorithm::EdDsa),
            "ES256" => Some(KeyAlgorithm::Es256),
            _ => None,
        }
    }

    pub(crate) fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            KeyAlgorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            KeyAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// What is wrong with a key file or a JWKS document. Never holds key
/// material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the JWKS document is not valid JSON of the form {{\"keys\": [...]}}: {0}")]
    JwksSyntax(#[source] serde_json::Error),
    #[error("JWKS key {kid:?}: {problem}")]
    JwksKey { kid: String, problem: String },
    #[error(
        "the signing key is not a PEM 'PRIVATE KEY' (PKCS#8) holding an Ed25519 or P-256 key: {0}"
    )]
    SigningKey(&'static str),
    #[error("cannot generate a key pair")]
    Generate,
}

/// One public key of a JWKS document. Only the members Louyu reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}

/// A JWKS document: `{"keys": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a JWKS serializes")
    }
}

/// A public key ready to check signatures.
pub(crate) struct VerificationKey {
    pub(crate) algorithm: KeyAlgorithm,
    pub(crate) decoding: DecodingKey,
}

/// The keys of a JWKS document, by `kid`. Every key is checked: one key
/// that is not Ed25519 or P-256, or two keys with one `kid`, make the whole
/// document invalid, so a mistake in the file is seen at once and not when
/// its first token arrives.
pub(crate) fn parse_jwks(
    text: &str,
) -> Result<std::collections::HashMap<String, VerificationKey>, KeyError> {
    let set: JwkSet = serde_json::from_str(text).map_err(KeyError::JwksSyntax)?;
    let mut keys = std::collections::HashMap::new();
    for jwk in set.keys {
        let problem = |problem: &str| KeyError::JwksKey {
            kid: jwk.kid.clone(),
            problem: problem.to_owned(),
        };
        if jwk.kid.is_empty() {
            return Err(problem("every key needs a non-empty kid"));
        }
        if jwk
            .key_use
            .as_deref()
            .is_some_and(|key_use| key_use != "sig")
        {
            return Err(problem("use must be sig"));
        }
        let algorithm = match (jwk.kty.as_str(), jwk.crv.as_str()) {
            ("OKP", "Ed25519") => KeyAlgorithm::EdDsa,
            ("EC", "P-256") => KeyAlgorithm::Es256,
            _ => {
                return Err(problem(
                    "only OKP Ed25519 (EdDSA) and EC P-256 (ES256) keys are allowed",
                ));
            }
        };
        if jwk
            .alg
            .as_deref()
            .is_some_and(|alg| alg != algorithm.jws_name())
        {
            return Err(problem("alg does not match the key type"));
        }
        let coordinate_length = |coordinate: &str| {
            URL_SAFE_NO_PAD
                .decode(coordinate)
                .map(|bytes| bytes.len())
                .unwrap_or(0)
        };
        let decoding = match algorithm {
            KeyAlgorithm::EdDsa => {
                if coordinate_length(&jwk.x) != 32 || jwk.y.is_some() {
                    return Err(problem("x must be 32 bytes of base64url and y absent"));
                }
                DecodingKey::from_ed_components(&jwk.x)
                    .map_err(|_| problem("x is not a public key"))?
            }
            KeyAlgorithm::Es256 => {
                let y = jwk.y.as_deref().unwrap_or_default();
                if coordinate_length(&jwk.x) != 32 || coordinate_length(y) != 32 {
                    return Err(problem("x and y must each be 32 bytes of base64url"));
                }
                DecodingKey::from_ec_components(&jwk.x, y)
                    .map_err(|_| problem("x and y are not a public key"))?
            }
        };
        if keys.contains_key(&jwk.kid) {
            return Err(problem("two keys share this kid"));
        }
        keys.insert(
            jwk.kid.clone(),
            VerificationKey {
                algorithm,
                decoding,
            },
        );
    }
    Ok(keys)
}

/// The private key that signs tokens, with the `kid` its tokens carry.
pub struct SigningKey {
    algorithm: KeyAlgorithm,
    kid: String,
    encoding: EncodingKey,
    public_jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as
    /// `openssl genpkey -algorithm ed25519` or
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`
    /// write it. The `kid` is the key's RFC 7638 thumbprint.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_private_key_der(pem)?;
        Self::from_pkcs8_der(&der)
    }

    /// Reads the key from a PEM file, e.g. `LOUYU_SIGNING_KEY_FILE`.
    pub fn from_pem_file(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_pem(&pem)
    }

    /// The key `LOUYU_SIGNING_KEY_FILE` names, under the `kid`
    /// `LOUYU_SIGNING_KEY_ID` names, or its thumbprint when that is unset.
    pub fn from_env() -> anyhow::Result<Self> {
        let path = std::env::var_os(SIGNING_KEY_FILE_VARIABLE).ok_or_else(|| {
            anyhow::anyhow!("{SIGNING_KEY_FILE_VARIABLE} is not set: it names the PEM file of the private key that signs tokens")
        })?;
        let key = Self::from_pem_file(Path::new(&path))?;
        Ok(match std::env::var(SIGNING_KEY_ID_VARIABLE) {
            Ok(kid) if !kid.trim().is_empty() => key.with_kid(kid.trim()),
            _ => key,
        })
    }

    /// The same key under another `kid`, for a JWKS that names its keys.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self.public_jwk.kid = self.kid.clone();
        self
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as the JWKS entry that verifies this key's tokens.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// Any claims as a JWT signed with this key, its `kid` in the header:
    /// the gateway's development issuer signs its ID tokens with it.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = jsonwebtoken::Header::new(self.algorithm.jsonwebtoken());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Ok(pair) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            return Ok(Self::new(
                KeyAlgorithm::EdDsa,
                EncodingKey::from_ed_der(der),
                Jwk {
                    kty: "OKP".into(),
                    crv: "Ed25519".into(),
                    x,
                    y: None,
                    kid: String::new(),
                    alg: Some("EdDSA".into()),
                    key_use: Some("sig".into()),
                },
            ));
        }
        let pair = signature::EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der,
            &SystemRandom::new(),
        )
        .map_err(|_| KeyError::SigningKey("neither an Ed25519 nor a P-256 key"))?;
        // An uncompressed point: 0x04, then x and y of 32 bytes each.
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(KeyError::SigningKey(
                "the P-256 public key is not uncompressed",
            ));
        }
        Ok(Self::new(
            KeyAlgorithm::Es256,
            EncodingKey::from_ec_der(der),
            Jwk {
                kty: "EC".into(),
                crv: "P-256".into(),
                x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                y: Some(URL_SAFE_NO_PAD.encode(&point[33..65])),
                kid: String::new(),
                alg: Some("ES256".into()),
                key_use: Some("sig".into()),
            },
        ))
    }

    fn new(algorithm: KeyAlgorithm, encoding: EncodingKey, mut public_jwk: Jwk) -> Self {
        let kid = thumbprint(&public_jwk);
        public_jwk.kid = kid.clone();
        Self {
            algorithm,
            kid,
            encoding,
            public_jwk,
        }
    }
}

/// The RFC 7638 thumbprint of a public key: SHA-256 of its required members
/// in lexicographic order, base64url.
fn thumbprint(jwk: &Jwk) -> String {
    let canonical = match &jwk.y {
        Some(y) => format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
            jwk.crv, jwk.kty, jwk.x, y
        ),
        None => format!(
            r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
            jwk.crv, jwk.kty, jwk.x
        ),
    };
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

fn pem_private_key_der(pem: &str) -> Result<Vec<u8>, KeyError> {
    let start = pem.find(PEM_BEGIN).ok_or(KeyError::SigningKey(
        "no '-----BEGIN PRIVATE KEY-----' line",
    ))? + PEM_BEGIN.len();
    let length = pem[start..]
        .find(PEM_END)
        .ok_or(KeyError::SigningKey("no '-----END PRIVATE KEY-----' line"))?;
    let body: String = pem[start..start + length]
        .chars()
        .filter(|character| !character.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(body)
        .map_err(|_| KeyError::SigningKey("the PEM body is not base64"))
}

fn der_to_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from(PEM_BEGIN);
    pem.push('\n');
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

/// A freshly generated key pair: the private key as PEM, and the JWKS that
/// verifies its tokens. For `louyu up` and tests; a deployment makes its
/// keys with its own tools and keeps the private key out of the cluster.
pub struct DevelopmentKeys {
    pub signing_key: SigningKey,
    pub private_key_pem: SecretString,
}

impl fmt::Debug for DevelopmentKeys {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DevelopmentKeys")
            .field("signing_key", &self.signing_key)
            .finish_non_exhaustive()
    }
}

impl DevelopmentKeys {
    /// The JWKS document holding this pair's public key.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.signing_key.public_jwk().clone()],
        }
    }

    /// Writes `signing-key.pem` (readable by its owner only) and
    /// `jwks.json` into `folder`, and returns their paths: what
    /// `LOUYU_SIGNING_KEY_FILE` and `LOUYU_JWKS_FILE` point at.
    pub fn write_to(&self, folder: &Path) -> Result<(PathBuf, PathBuf), KeyError> {
        let key_path = folder.join("signing-key.pem");
        let jwks_path = folder.join("jwks.json");
        let write_error = |path: &Path| {
            let path = path.to_owned();
            move |source| KeyError::Write { path, source }
        };
        write_private(&key_path, self.private_key_pem.expose_secret())
            .map_err(write_error(&key_path))?;
        std::fs::write(&jwks_path, self.jwks().to_json()).map_err(write_error(&jwks_path))?;
        Ok((key_path, jwks_path))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Generates a key pair with ring.
pub fn generate_development_keys(algorithm: KeyAlgorithm) -> Result<DevelopmentKeys, KeyError> {
    let random = SystemRandom::new();
    let document = match algorithm {
        KeyAlgorithm::EdDsa => signature::Ed25519KeyPair::generate_pkcs8(&random),
        KeyAlgorithm::Es256 => signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &random,
        ),
    }
    .map_err(|_| KeyError::Generate)?;
    let der = document.as_ref();
    Ok(DevelopmentKeys {
        signing_key: SigningKey::from_pkcs8_der(der)?,
        private_key_pem: SecretString::from(der_to_pem(der)),
    })
}
