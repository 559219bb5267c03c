//! The SSE `id:` of the gateway's event stream: where the stream stands in
//! every service's feed (the first characters of the feed's epoch and the
//! sequence of the last event the stream passed, visible or not), sealed
//! with ChaCha20-Poly1305 under a key derived from the deployment's
//! `LOUYU_PAGE_TOKEN_SECRET`.
//!
//! Sealed, because the sequences would otherwise count the events a viewer
//! was not shown: two visible events whose ids said 42 and 45 would tell
//! that two others happened between them. Each id is sealed with a fresh
//! random nonce, so two ids say nothing about each other either. The key
//! comes from the configuration, so an id outlives a restart of the gateway
//! and holds on every replica; changing the secret makes every outstanding
//! id unreadable (refused as malformed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use louyu_kit::config::ServiceName;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// The feeds a stream follows, in the order the cursor holds them.
pub const FEEDS: [ServiceName; 4] = [
    ServiceName::Registry,
    ServiceName::Visits,
    ServiceName::Risk,
    ServiceName::Referral,
];

/// How many characters of a feed's epoch the cursor keeps: enough to tell
/// a restored feed from the one the cursor was taken in.
pub const EPOCH_PREFIX_LEN: usize = 8;

/// Bound to every sealed id, so a value sealed for anything else never
/// opens as a cursor.
const AAD: &[u8] = b"louyu.gateway.stream.cursor.v1";

/// The longest Last-Event-ID the gateway reads.
const MAX_ID_LEN: usize = 512;

/// Why a Last-Event-ID could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("too long")]
    TooLong,
    #[error("not one the gateway issued (altered, truncated, or sealed under another secret)")]
    NotIssued,
}

/// Where a stream stands in one feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The first [`EPOCH_PREFIX_LEN`] characters of the feed's epoch.
    pub epoch: String,
    /// The last event passed.
    pub sequence: i64,
}

impl Position {
    pub fn new(epoch: &str, sequence: i64) -> Self {
        Self {
            epoch: epoch_prefix(epoch),
            sequence,
        }
    }
}

/// The part of `epoch` a cursor keeps.
pub fn epoch_prefix(epoch: &str) -> String {
    epoch
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(EPOCH_PREFIX_LEN)
        .collect()
}

/// Where a stream stands in each feed; a feed it never reached has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursors {
    positions: [Option<Position>; FEEDS.len()],
}

fn index_of(service: ServiceName) -> usize {
    FEEDS
        .iter()
        .position(|feed| *feed == service)
        .expect("a feed the stream follows")
}

fn code_of(service: ServiceName) -> &'static str {
    match service {
        ServiceName::Registry => "rg",
        ServiceName::Visits => "vs",
        ServiceName::Risk => "rk",
        ServiceName::Referral => "rf",
        ServiceName::Gateway => "gw",
    }
}

impl Cursors {
    pub fn get(&self, service: ServiceName) -> Option<&Position> {
        self.positions[index_of(service)].as_ref()
    }

    pub fn set(&mut self, service: ServiceName, position: Position) {
        self.positions[index_of(service)] = Some(position);
    }

    /// `rg:1a2b3c4d:42;vs:…`, the plain text that is sealed.
    fn to_text(&self) -> String {
        FEEDS
            .iter()
            .zip(&self.positions)
            .filter_map(|(service, position)| {
                position.as_ref().map(|position| {
                    format!(
                        "{}:{}:{}",
                        code_of(*service),
                        position.epoch,
                        position.sequence
                    )
                })
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    fn from_text(text: &str) -> Option<Self> {
        let mut cursors = Cursors::default();
        for entry in text.split(';').filter(|entry| !entry.is_empty()) {
            let mut fields = entry.split(':');
            let (Some(code), Some(epoch), Some(sequence), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let service = *FEEDS.iter().find(|service| code_of(**service) == code)?;
            let sequence: i64 = sequence.parse().ok().filter(|sequence| *sequence >= 0)?;
            if epoch.len() > EPOCH_PREFIX_LEN || !epoch.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return None;
            }
            cursors.set(
                service,
                Position {
                    epoch: epoch.to_owned(),
                    sequence,
                },
            );
        }
        Some(cursors)
    }
}

/// Seals and opens cursors.
pub struct CursorKey {
    key: LessSafeKey,
    random: SystemRandom,
}

impl CursorKey {
    /// The key derived (HKDF-SHA256) from the deployment's secret.
    pub fn derive(secret: &[u8]) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"louyu gateway");
        let info: &[&[u8]] = &[b"stream cursor v1"];
        let pseudo_random_key = salt.extract(secret);
        let okm = pseudo_random_key
            .expand(info, &CHACHA20_POLY1305)
            .expect("a ChaCha20-Poly1305 key is a valid HKDF output length");
        Self {
            key: LessSafeKey::new(UnboundKey::from(okm)),
            random: SystemRandom::new(),
        }
    }

    /// `cursors` as an SSE id: base64url of nonce, ciphertext and tag.
    pub fn seal(&self, cursors: &Cursors) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut sealed = cursors.to_text().into_bytes();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut sealed,
            )
            .expect("a cursor is far below ChaCha20-Poly1305's limit");
        let mut id = nonce.to_vec();
        id.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(id)
    }

    /// The cursors of an id [`CursorKey::seal`] made.
    pub fn open(&self, id: &str) -> Result<Cursors, CursorError> {
        if id.len() > MAX_ID_LEN {
            return Err(CursorError::TooLong);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(id.trim())
            .map_err(|_| CursorError::NotIssued)?;
        if bytes.len() < NONCE_LEN {
            return Err(CursorError::NotIssued);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CursorError::NotIssued)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .map_err(|_| CursorError::NotIssued)?;
        let text = std::str::from_utf8(plain).map_err(|_| CursorError::NotIssued)?;
        Cursors::from_text(text).ok_or(CursorError::NotIssued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursors {
        let mut cursors = Cursors::default();
        cursors.set(
            ServiceName::Registry,
            Position::new("1a2b3c4d-0000-4000-8000-000000000000", 42),
        );
        cursors.set(ServiceName::Risk, Position::new("ffeeddcc-1111", 7));
        cursors
    }

    #[test]
    fn a_sealed_cursor_opens_to_what_was_sealed() {
        let key = CursorKey::derive(b"secret");
        let id = key.seal(&sample());
        assert_eq!(key.open(&id), Ok(sample()));
        assert!(id.len() < 120, "compact: {id}");
        assert_eq!(
            key.open(&key.seal(&Cursors::default())),
            Ok(Cursors::default())
        );
    }

    #[test]
    fn an_id_says_nothing_readable_and_never_repeats() {
        let key = CursorKey::derive(b"secret");
        let (first, second) = (key.seal(&sample()), key.seal(&sample()));
        assert_ne!(first, second);
        let decoded = URL_SAFE_NO_PAD.decode(&first).unwrap();
        let text = String::from_utf8_lossy(&decoded);
        assert!(!text.contains("42") && !text.contains("1a2b"), "{text}");
    }

    #[test]
    fn an_altered_foreign_or_garbage_id_is_refused() {
        let key = CursorKey::derive(b"secret");
        let id = key.seal(&sample());
        let mut altered = id.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.open(&altered), Err(CursorError::NotIssued));
        assert_eq!(
            CursorKey::derive(b"another secret").open(&id),
            Err(CursorError::NotIssued)
        );
        for garbage in ["", "42", "not base64 at all!", "rg:1a2b3c4d:42"] {
            assert_eq!(key.open(garbage), Err(CursorError::NotIssued), "{garbage}");
        }
        assert_eq!(key.open(&"A".repeat(600)), Err(CursorError::TooLong));
    }
}
