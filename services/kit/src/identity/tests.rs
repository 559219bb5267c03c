use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use tonic::metadata::{MetadataMap, MetadataValue};

use super::*;

const DISTRICT: &str = "jingan";

/// A deployment's keys and verifier, in a temporary folder.
struct Deployment {
    folder: tempfile::TempDir,
    jwks_path: PathBuf,
    ed25519: DevelopmentKeys,
    p256: DevelopmentKeys,
    verifier: Verifier,
}

impl Deployment {
    fn new() -> Self {
        Self::with_development_identity(false)
    }

    fn with_development_identity(development_identity: bool) -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let ed25519 = generate_development_keys(KeyAlgorithm::EdDsa).expect("an Ed25519 key");
        let p256 = generate_development_keys(KeyAlgorithm::Es256).expect("a P-256 key");
        let jwks_path = folder.path().join("jwks.json");
        write_jwks(&jwks_path, &[&ed25519.signing_key, &p256.signing_key]);
        let mut settings = IdentitySettings::new(DISTRICT);
        settings.jwks_file = Some(jwks_path.clone());
        settings.development_identity = development_identity;
        let verifier = Verifier::new(settings).expect("a verifier");
        Self {
            folder,
            jwks_path,
            ed25519,
            p256,
            verifier,
        }
    }

    fn verify_bearer(&self, token: &str) -> Result<Caller, AuthError> {
        self.verifier.verify(&bearer(token))
    }
}

fn write_jwks(path: &std::path::Path, keys: &[&SigningKey]) {
    let set = JwkSet {
        keys: keys.iter().map(|key| key.public_jwk().clone()).collect(),
    };
    std::fs::write(path, set.to_json()).expect("the JWKS file is written");
}

fn bearer(token: &str) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("ASCII"),
    );
    metadata
}

fn field_worker() -> Principal {
    Principal::Person(Person {
        staff_id: "s-001".into(),
        roles: vec![Role::FieldWorker],
        district: DISTRICT.into(),
        sub_district: Some("jingansi".into()),
        department: None,
    })
}

fn visits_service() -> Principal {
    Principal::System(SystemIdentity {
        name: "visits".into(),
        district: DISTRICT.into(),
    })
}

fn token(key: &SigningKey, principal: &Principal) -> String {
    mint_token(key, principal, &TokenOptions::default()).expect("a token")
}

/// A token with the given header and claims, signed by nobody.
fn unsigned_token(header: &str, claims: &serde_json::Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(b"signature")
    )
}

fn good_claims() -> serde_json::Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "iss": "louyu", "aud": "louyu", "sub": "s-001", "iat": now, "nbf": now,
        "exp": now + 600, "kind": "person", "district": DISTRICT, "roles": ["field-worker"],
    })
}

#[test]
fn an_eddsa_person_token_yields_the_verified_person() {
    let deployment = Deployment::new();
    let caller = deployment
        .verify_bearer(&token(&deployment.ed25519.signing_key, &field_worker()))
        .expect("accepted");
    assert!(caller.is_verified());
    assert_eq!(caller.principal(), &field_worker());
    assert_eq!(caller.roles(), &[Role::FieldWorker]);
    assert_eq!(
        caller.person().unwrap().sub_district.as_deref(),
        Some("jingansi")
    );
    assert_eq!(caller.audit_actor(), "staff:s-001");
}

#[test]
fn an_es256_system_token_yields_the_verified_system() {
    let deployment = Deployment::new();
    let caller = deployment
        .verify_bearer(&token(&deployment.p256.signing_key, &visits_service()))
        .expect("accepted");
    assert_eq!(caller.principal(), &visits_service());
    assert_eq!(caller.roles(), &[Role::System]);
    assert_eq!(caller.person(), None);
    assert_eq!(caller.audit_actor(), "system:visits");
}

#[test]
fn a_request_without_a_token_is_refused_as_no_token() {
    let deployment = Deployment::new();
    let error = deployment.verifier.verify(&MetadataMap::new()).unwrap_err();
    assert_eq!(error, AuthError::NoToken);
    let status = error.into_status();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        status.message().starts_with("缺少身份令牌 no token"),
        "{}",
        status.message()
    );
}

#[test]
fn x_louyu_actor_without_a_token_is_refused_outside_development_mode() {
    let deployment = Deployment::new();
    let mut metadata = MetadataMap::new();
    metadata.insert("x-louyu-actor", MetadataValue::from_static("s-001"));
    assert_eq!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::ActorWithoutToken)
    );
}

#[test]
fn development_mode_accepts_x_louyu_actor_as_an_unverified_identity() {
    let deployment = Deployment::with_development_identity(true);
    assert!(deployment.verifier.is_development_identity());
    let mut metadata = MetadataMap::new();
    metadata.insert("x-louyu-actor", MetadataValue::from_static("s-007"));
    let caller = deployment.verifier.verify(&metadata).expect("accepted");
    assert_eq!(caller.provenance(), Provenance::UnverifiedDevelopment);
    assert!(!caller.is_verified());
    assert_eq!(caller.roles(), &[Role::DistrictAdmin]);
    assert_eq!(caller.district(), DISTRICT);
    assert_eq!(caller.audit_actor(), "staff:s-007 (unverified)");

    metadata.insert(
        "x-louyu-roles",
        MetadataValue::from_static("field-worker, auditor"),
    );
    metadata.insert(
        "x-louyu-sub-district",
        MetadataValue::from_static("jingansi"),
    );
    let caller = deployment.verifier.verify(&metadata).expect("accepted");
    assert_eq!(caller.roles(), &[Role::FieldWorker, Role::Auditor]);
    assert_eq!(
        caller.person().unwrap().sub_district.as_deref(),
        Some("jingansi")
    );

    let mut metadata = MetadataMap::new();
    metadata.insert(
        "x-louyu-actor",
        MetadataValue::from_static("system:registry"),
    );
    let caller = deployment.verifier.verify(&metadata).expect("accepted");
    assert_eq!(caller.roles(), &[Role::System]);
    assert_eq!(caller.audit_actor(), "system:registry (unverified)");
}

#[test]
fn development_mode_still_refuses_a_bad_token_and_a_request_naming_nobody() {
    let deployment = Deployment::with_development_identity(true);
    let mut metadata = bearer("not-a-token");
    metadata.insert("x-louyu-actor", MetadataValue::from_static("s-007"));
    assert!(matches!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::Malformed(_))
    ));
    assert_eq!(
        deployment.verifier.verify(&MetadataMap::new()),
        Err(AuthError::NoToken)
    );
    let mut metadata = MetadataMap::new();
    metadata.insert("x-louyu-actor", MetadataValue::from_static("s-007"));
    metadata.insert("x-louyu-roles", MetadataValue::from_static("system"));
    assert!(matches!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn development_mode_needs_no_jwks_file_but_a_deployment_does() {
    let mut settings = IdentitySettings::new(DISTRICT);
    assert!(Verifier::new(settings.clone()).is_err());
    settings.development_identity = true;
    let verifier = Verifier::new(settings).expect("a development verifier");
    let key = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    assert_eq!(
        verifier.verify(&bearer(&token(&key.signing_key, &field_worker()))),
        Err(AuthError::UnknownKey)
    );
}

#[test]
fn malformed_tokens_are_refused_as_malformed() {
    let deployment = Deployment::new();
    for token in ["abc", "a.b", "a.b.c.d", "!!!.e30.e30", "e30.e30.e30"] {
        let error = deployment.verify_bearer(token).unwrap_err();
        assert!(
            matches!(error, AuthError::Malformed(_)),
            "{token}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("令牌格式错误 malformed token")
        );
    }
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", MetadataValue::from_static("Basic czpw"));
    assert!(matches!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::Malformed(_))
    ));
    // A header without kid, and claims that are not Louyu's.
    let key = &deployment.ed25519.signing_key;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    let no_kid = jsonwebtoken::encode(&header, &good_claims(), key.encoding_key()).unwrap();
    assert!(matches!(
        deployment.verify_bearer(&no_kid),
        Err(AuthError::Malformed(_))
    ));
    header.kid = Some(key.kid().to_owned());
    let mut claims = good_claims();
    claims["roles"] = serde_json::json!(["mayor"]);
    let unknown_role = jsonwebtoken::encode(&header, &claims, key.encoding_key()).unwrap();
    assert!(matches!(
        deployment.verify_bearer(&unknown_role),
        Err(AuthError::Malformed(_))
    ));
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("exp");
    let no_expiry = jsonwebtoken::encode(&header, &claims, key.encoding_key()).unwrap();
    assert!(matches!(
        deployment.verify_bearer(&no_expiry),
        Err(AuthError::Malformed(_))
    ));
}

#[test]
fn an_expired_token_is_refused_as_expired_but_the_leeway_is_allowed() {
    let deployment = Deployment::new();
    let key = &deployment.ed25519.signing_key;
    let options = TokenOptions {
        ttl: Duration::from_secs(60),
        ..TokenOptions::default()
    };
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = mint_token_at(key, &field_worker(), &options, long_ago).unwrap();
    assert_eq!(deployment.verify_bearer(&expired), Err(AuthError::Expired));
    let just_expired = SystemTime::now() - Duration::from_secs(70);
    let within_leeway = mint_token_at(key, &field_worker(), &options, just_expired).unwrap();
    assert!(deployment.verify_bearer(&within_leeway).is_ok());
}

#[test]
fn a_token_not_yet_valid_is_refused_as_not_yet_valid() {
    let deployment = Deployment::new();
    let later = SystemTime::now() + Duration::from_secs(600);
    let token = mint_token_at(
        &deployment.p256.signing_key,
        &field_worker(),
        &TokenOptions::default(),
        later,
    )
    .unwrap();
    assert_eq!(
        deployment.verify_bearer(&token),
        Err(AuthError::NotYetValid)
    );
}

#[test]
fn a_token_signed_by_another_key_under_a_known_kid_is_refused_as_wrong_signature() {
    let deployment = Deployment::new();
    for (algorithm, known) in [
        (KeyAlgorithm::EdDsa, &deployment.ed25519.signing_key),
        (KeyAlgorithm::Es256, &deployment.p256.signing_key),
    ] {
        let impostor = generate_development_keys(algorithm)
            .unwrap()
            .signing_key
            .with_kid(known.kid());
        let forged = token(&impostor, &field_worker());
        assert_eq!(
            deployment.verify_bearer(&forged),
            Err(AuthError::WrongSignature)
        );
    }
    // A genuine token whose claims were changed after signing.
    let genuine = token(&deployment.ed25519.signing_key, &field_worker());
    let parts: Vec<&str> = genuine.split('.').collect();
    let mut claims = good_claims();
    claims["roles"] = serde_json::json!(["district-admin"]);
    let tampered = unsigned_token("{}", &claims);
    let tampered_claims = tampered.split('.').nth(1).unwrap();
    let tampered = format!("{}.{}.{}", parts[0], tampered_claims, parts[2]);
    assert_eq!(
        deployment.verify_bearer(&tampered),
        Err(AuthError::WrongSignature)
    );
}

#[test]
fn a_token_of_a_key_not_in_the_jwks_is_refused_as_unknown_key() {
    let deployment = Deployment::new();
    let stranger = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    let token = token(&stranger.signing_key, &field_worker());
    let error = deployment.verify_bearer(&token).unwrap_err();
    assert_eq!(error, AuthError::UnknownKey);
    assert!(error.to_string().contains("kid"));
}

#[test]
fn a_token_of_another_issuer_or_audience_is_refused_as_such() {
    let deployment = Deployment::new();
    let key = &deployment.ed25519.signing_key;
    let other_issuer = TokenOptions {
        issuer: "someone-else".into(),
        ..TokenOptions::default()
    };
    let token = mint_token(key, &field_worker(), &other_issuer).unwrap();
    assert_eq!(
        deployment.verify_bearer(&token),
        Err(AuthError::WrongIssuer)
    );
    let other_audience = TokenOptions {
        audience: "another-app".into(),
        ..TokenOptions::default()
    };
    let token = mint_token(key, &field_worker(), &other_audience).unwrap();
    assert_eq!(
        deployment.verify_bearer(&token),
        Err(AuthError::WrongAudience)
    );
}

#[test]
fn another_districts_token_is_refused_whatever_it_says() {
    let deployment = Deployment::new();
    let mut person = match field_worker() {
        Principal::Person(person) => person,
        Principal::System(_) => unreachable!(),
    };
    person.district = "huangpu".into();
    person.roles = vec![Role::DistrictAdmin];
    let token = token(&deployment.ed25519.signing_key, &Principal::Person(person));
    let error = deployment.verify_bearer(&token).unwrap_err();
    assert_eq!(error, AuthError::OtherDistrict);
    assert!(error.to_string().contains("another district"));
}

#[test]
fn algorithms_other_than_es256_and_eddsa_are_refused_as_not_allowed() {
    let deployment = Deployment::new();
    let kid = deployment.ed25519.signing_key.kid().to_owned();
    // HS256 with the public key as the secret: the classic confusion attack.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.clone());
    let secret = jsonwebtoken::EncodingKey::from_secret(
        deployment.ed25519.signing_key.public_jwk().x.as_bytes(),
    );
    let hs256 = jsonwebtoken::encode(&header, &good_claims(), &secret).unwrap();
    assert_eq!(
        deployment.verify_bearer(&hs256),
        Err(AuthError::AlgorithmNotAllowed)
    );
    let none = unsigned_token(
        &format!(r#"{{"alg":"none","kid":"{kid}"}}"#),
        &good_claims(),
    );
    assert_eq!(
        deployment.verify_bearer(&none),
        Err(AuthError::AlgorithmNotAllowed)
    );
    let rs256 = unsigned_token(
        &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
        &good_claims(),
    );
    assert_eq!(
        deployment.verify_bearer(&rs256),
        Err(AuthError::AlgorithmNotAllowed)
    );
    // ES256 claimed for the Ed25519 key.
    let p256_under_ed_kid = generate_development_keys(KeyAlgorithm::Es256)
        .unwrap()
        .signing_key
        .with_kid(kid);
    let mismatched = token(&p256_under_ed_kid, &field_worker());
    assert_eq!(
        deployment.verify_bearer(&mismatched),
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[test]
fn no_refusal_repeats_the_token() {
    let deployment = Deployment::new();
    let stranger = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    let token = token(&stranger.signing_key, &field_worker());
    let status = deployment.verify_bearer(&token).unwrap_err().into_status();
    let signature = token.rsplit('.').next().unwrap();
    assert!(!status.message().contains(signature));
    assert!(!format!("{status:?}").contains(signature));
}

#[test]
fn a_key_added_to_the_jwks_file_is_accepted_without_a_new_verifier() {
    let deployment = Deployment::new();
    let added = generate_development_keys(KeyAlgorithm::Es256).unwrap();
    let token = token(&added.signing_key, &field_worker());
    assert_eq!(deployment.verify_bearer(&token), Err(AuthError::UnknownKey));

    write_jwks(
        &deployment.jwks_path,
        &[&deployment.ed25519.signing_key, &added.signing_key],
    );
    assert!(
        deployment.verify_bearer(&token).is_ok(),
        "the new kid is read at once"
    );
    // A second rotation right after the first is read as well.
    let again = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    write_jwks(
        &deployment.jwks_path,
        &[&added.signing_key, &again.signing_key],
    );
    let token_again = mint_token(
        &again.signing_key,
        &field_worker(),
        &TokenOptions::default(),
    )
    .unwrap();
    assert!(deployment.verify_bearer(&token_again).is_ok());
}

#[test]
fn a_key_removed_from_the_jwks_file_is_refused_within_a_few_seconds() {
    let deployment = Deployment::new();
    let retired = token(&deployment.ed25519.signing_key, &field_worker());
    assert!(deployment.verify_bearer(&retired).is_ok());
    write_jwks(&deployment.jwks_path, &[&deployment.p256.signing_key]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while deployment.verify_bearer(&retired).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the removed key is still accepted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        deployment.verify_bearer(&retired),
        Err(AuthError::UnknownKey)
    );
}

#[test]
fn a_jwks_file_that_stops_parsing_leaves_the_previous_keys_in_place() {
    let deployment = Deployment::new();
    let token = token(&deployment.p256.signing_key, &field_worker());
    std::fs::write(&deployment.jwks_path, "{ not json").unwrap();
    let stranger = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    let unknown = mint_token(
        &stranger.signing_key,
        &field_worker(),
        &TokenOptions::default(),
    )
    .unwrap();
    // The unknown kid makes the verifier read the broken file now.
    assert_eq!(
        deployment.verify_bearer(&unknown),
        Err(AuthError::UnknownKey)
    );
    assert!(deployment.verify_bearer(&token).is_ok());
    drop(deployment.folder);
}

#[test]
fn a_jwks_with_a_key_louyu_does_not_accept_fails_the_start() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("jwks.json");
    let open = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let mut settings = IdentitySettings::new(DISTRICT);
        settings.jwks_file = Some(path.clone());
        Verifier::new(settings)
            .map(|_| ())
            .map_err(|error| error.to_string())
    };
    let rsa = r#"{"keys":[{"kty":"RSA","crv":"","x":"","kid":"r","n":"AQAB","e":"AQAB"}]}"#;
    assert!(open(rsa).unwrap_err().contains("only OKP Ed25519"));
    let key = generate_development_keys(KeyAlgorithm::EdDsa).unwrap();
    let jwk = key.signing_key.public_jwk().clone();
    let twice = JwkSet {
        keys: vec![jwk.clone(), jwk.clone()],
    };
    assert!(
        open(&twice.to_json())
            .unwrap_err()
            .contains("two keys share")
    );
    let mut wrong_alg = jwk.clone();
    wrong_alg.alg = Some("ES256".into());
    let wrong = JwkSet {
        keys: vec![wrong_alg],
    };
    assert!(
        open(&wrong.to_json())
            .unwrap_err()
            .contains("alg does not match")
    );
    assert!(open("[]").unwrap_err().contains("not valid JSON"));
    let good = JwkSet { keys: vec![jwk] };
    assert!(open(&good.to_json()).is_ok());
}

#[test]
fn a_service_acting_for_a_person_carries_both_and_is_judged_as_the_person() {
    let deployment = Deployment::new();
    let mut metadata = bearer(&token(&deployment.p256.signing_key, &visits_service()));
    let person_token = token(&deployment.ed25519.signing_key, &field_worker());
    metadata.insert(
        "x-louyu-on-behalf-of",
        MetadataValue::try_from(person_token.as_str()).unwrap(),
    );
    let caller = deployment.verifier.verify(&metadata).expect("accepted");
    assert_eq!(caller.principal(), &visits_service());
    assert_eq!(caller.roles(), &[Role::FieldWorker]);
    assert_eq!(caller.acting_for().unwrap().staff_id, "s-001");
    assert_eq!(caller.audit_actor(), "system:visits for staff:s-001");
}

#[test]
fn only_a_system_may_act_for_a_person_and_only_with_a_good_token() {
    let deployment = Deployment::new();
    let key = &deployment.ed25519.signing_key;
    let mut metadata = bearer(&token(key, &field_worker()));
    let other = token(key, &field_worker());
    metadata.insert(
        "x-louyu-on-behalf-of",
        MetadataValue::try_from(other.as_str()).unwrap(),
    );
    assert_eq!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::ActingForNotAllowed)
    );

    let mut metadata = bearer(&token(key, &visits_service()));
    let long_ago = SystemTime::now() - Duration::from_secs(86_400);
    let expired = mint_token_at(key, &field_worker(), &TokenOptions::default(), long_ago).unwrap();
    metadata.insert(
        "x-louyu-on-behalf-of",
        MetadataValue::try_from(expired.as_str()).unwrap(),
    );
    let error = deployment.verifier.verify(&metadata).unwrap_err();
    assert_eq!(error, AuthError::OnBehalfOf(Box::new(AuthError::Expired)));
    assert!(error.to_string().contains("expired"));

    let mut metadata = bearer(&token(key, &visits_service()));
    let system = token(key, &visits_service());
    metadata.insert(
        "x-louyu-on-behalf-of",
        MetadataValue::try_from(system.as_str()).unwrap(),
    );
    assert!(matches!(
        deployment.verifier.verify(&metadata),
        Err(AuthError::OnBehalfOf(_))
    ));
}

#[test]
fn a_generated_private_key_reads_back_with_the_same_kid_and_signs_accepted_tokens() {
    for algorithm in [KeyAlgorithm::EdDsa, KeyAlgorithm::Es256] {
        let keys = generate_development_keys(algorithm).unwrap();
        let folder = tempfile::tempdir().unwrap();
        let (key_path, jwks_path) = keys.write_to(folder.path()).unwrap();
        let read = SigningKey::from_pem_file(&key_path).unwrap();
        assert_eq!(read.kid(), keys.signing_key.kid());
        assert_eq!(read.algorithm(), algorithm);
        assert!(!format!("{read:?}{keys:?}").contains("PRIVATE"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let settings = IdentitySettings::new(DISTRICT)
            .apply_env(|key| match key {
                "LOUYU_JWKS_FILE" => Some(jwks_path.display().to_string()),
                _ => None,
            })
            .unwrap();
        let verifier = Verifier::new(settings).unwrap();
        let caller = verifier
            .verify(&bearer(&token(&read, &field_worker())))
            .expect("accepted");
        assert_eq!(caller.principal(), &field_worker());
        let header = jsonwebtoken::decode_header(&token(&read, &field_worker())).unwrap();
        assert_eq!(header.kid.as_deref(), Some(read.kid()));
    }
}

#[test]
fn a_signing_key_that_is_not_pkcs8_ed25519_or_p256_is_refused() {
    assert!(SigningKey::from_pem("hello").is_err());
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";
    assert!(SigningKey::from_pem(sec1).is_err());
    let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert!(SigningKey::from_pem(garbage).is_err());
}

#[test]
fn minting_refuses_a_bad_ttl_and_a_person_without_roles() {
    let key = generate_development_keys(KeyAlgorithm::EdDsa)
        .unwrap()
        .signing_key;
    let zero = TokenOptions {
        ttl: Duration::ZERO,
        ..TokenOptions::default()
    };
    assert!(matches!(
        mint_token(&key, &field_worker(), &zero),
        Err(MintError::Ttl)
    ));
    let too_long = TokenOptions {
        ttl: MAX_TOKEN_TTL + Duration::from_secs(1),
        ..TokenOptions::default()
    };
    assert!(matches!(
        mint_token(&key, &field_worker(), &too_long),
        Err(MintError::Ttl)
    ));
    let nobody = Principal::Person(Person {
        staff_id: "s-001".into(),
        roles: vec![],
        district: DISTRICT.into(),
        sub_district: None,
        department: None,
    });
    assert!(matches!(
        mint_token(&key, &nobody, &TokenOptions::default()),
        Err(MintError::PersonRoles)
    ));
}

#[test]
fn settings_read_the_environment() {
    let settings = IdentitySettings::new(DISTRICT)
        .apply_env(|key| match key {
            "LOUYU_DEV_IDENTITY" => Some("1".into()),
            "LOUYU_TOKEN_ISSUER" => Some("gateway".into()),
            "LOUYU_TOKEN_AUDIENCE" => Some("louyu-jingan".into()),
            _ => None,
        })
        .unwrap();
    assert!(settings.development_identity);
    assert_eq!(settings.issuer, "gateway");
    assert_eq!(settings.audience, "louyu-jingan");
    assert!(
        IdentitySettings::new(DISTRICT)
            .apply_env(|key| (key == "LOUYU_DEV_IDENTITY").then(|| "yes".into()))
            .is_err()
    );
}

#[test]
fn roles_parse_from_and_print_as_their_token_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
    }
    assert!("admin".parse::<Role>().is_err());
}

#[test]
fn a_verifier_and_a_caller_can_be_shared_between_requests() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Verifier>();
    shareable::<Caller>();
    shareable::<SigningKey>();
}

#[test]
fn a_token_checked_before_is_refused_once_it_expires() {
    let deployment = Deployment::new();
    let key = &deployment.ed25519.signing_key;
    let options = TokenOptions {
        ttl: Duration::from_secs(60),
        ..TokenOptions::default()
    };
    // Expired 25 s ago: accepted within the 30 s leeway for 5 s more.
    let issued = SystemTime::now() - Duration::from_secs(60 + LEEWAY.as_secs() - 5);
    let token = mint_token_at(key, &field_worker(), &options, issued).unwrap();
    assert!(deployment.verify_bearer(&token).is_ok());
    assert!(
        deployment.verify_bearer(&token).is_ok(),
        "checked again, from the checked tokens"
    );
    std::thread::sleep(Duration::from_millis(6500));
    assert_eq!(deployment.verify_bearer(&token), Err(AuthError::Expired));
}
