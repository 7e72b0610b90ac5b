//! Sealed datagrams: encryption and authentication with a shared keyring.
//!
//! A sealed datagram (or stream payload) is
//! `magic (2 B) | version (1 B) | flags = SEALED (1 B) | nonce (24 B) |
//! ciphertext | tag (16 B)`, where the ciphertext is everything the plain
//! datagram holds after its first four bytes (message count and messages).
//! The AEAD is XChaCha20-Poly1305: its 192-bit nonces can be drawn at
//! random for every datagram, by every member of a cluster sharing one
//! key, with no realistic chance of a repeat (AES-GCM's 96-bit random
//! nonces are good for about 2³² datagrams per key, which a busy cluster
//! sends in days), and it is fast and constant-time in software on every
//! CPU. The associated data is the four header bytes plus the cluster
//! label, so a datagram from another cluster, or with a header changed in
//! transit, fails authentication even under the same key.
//!
//! The keyring lists the keys a member accepts, the primary (the one it
//! seals with) first. Opening tries each key in turn, as memberlist does,
//! which is what lets a cluster rotate keys without downtime: install the
//! new key everywhere, make it primary everywhere, then remove the old one.

use super::{HEADER_LEN, MAGIC, PROTOCOL_VERSION};
use alloc::vec::Vec;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use core::fmt;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};

/// Length of a key, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a nonce, in bytes.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag, in bytes.
pub const TAG_LEN: usize = 16;
/// Bytes sealing adds to a datagram.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Envelope flag of a sealed datagram.
pub const FLAG_SEALED: u8 = 0x01;
/// Most keys a keyring holds.
pub const MAX_KEYS: usize = 16;
/// Longest cluster label, in bytes.
pub const MAX_LABEL_LEN: usize = 128;

/// A 32-byte key. Its `Debug` form hides the bytes, so a config or a
/// keyring can be logged safely.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub [u8; KEY_LEN]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// Why a keyring change was refused. The keyring is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyringError {
    /// The keyring already holds [`MAX_KEYS`] keys.
    Full,
    /// The key is not in the keyring.
    UnknownKey,
    /// The primary key cannot be removed: make another key primary first.
    RemovingPrimary,
    /// The member was started without keys: encryption cannot be turned on
    /// at runtime (members without keys could no longer talk to it).
    Disabled,
    /// An all-zero key: almost certainly a mistake (`bytes(32)`), not a
    /// random key.
    ZeroKey,
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyringError::Full => write!(f, "the keyring already holds {MAX_KEYS} keys"),
            KeyringError::UnknownKey => f.write_str("that key is not in the keyring"),
            KeyringError::RemovingPrimary => {
                f.write_str("the primary key cannot be removed; make another key primary first")
            }
            KeyringError::ZeroKey => f.write_str("an all-zero key is not a random key"),
            KeyringError::Disabled => f.write_str(
                "this node was started without keys; start every node with keys to encrypt",
            ),
        }
    }
}

impl std::error::Error for KeyringError {}

/// Why a datagram could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Sealed, but no key in the keyring opens it with this label (wrong
    /// key, other cluster, tampered, or truncated).
    Unauthenticated,
    /// Not sealed, and this member accepts only sealed datagrams.
    Unencrypted,
}

/// The keys a member seals and opens datagrams with, and its cluster label.
pub struct Keyring {
    /// Primary first.
    keys: Vec<(Key, XChaCha20Poly1305)>,
    label: Vec<u8>,
    /// Nonces: a ChaCha20 stream seeded with 32 bytes of the driver's
    /// entropy (see [`Keyring::new`]).
    nonces: ChaCha20Rng,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print keys.
        f.debug_struct("Keyring").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring of `keys` (the first is primary; at least one, at most
    /// [`MAX_KEYS`], no duplicates — the caller validates) and `label`.
    /// `entropy` seeds the nonce stream: drivers pass 32 bytes from the
    /// operating system, so two members (or two lives of one) never share
    /// a stream; the simulator derives it from its seed.
    pub fn new(keys: &[Key], label: &[u8], entropy: [u8; 32]) -> Self {
        Keyring {
            keys: keys.iter().map(|k| (*k, XChaCha20Poly1305::new(&k.0.into()))).collect(),
            label: label.to_vec(),
            nonces: ChaCha20Rng::from_seed(entropy),
        }
    }

    /// Reseeds the nonce stream (see [`Keyring::new`]).
    pub fn reseed(&mut self, entropy: [u8; 32]) {
        self.nonces = ChaCha20Rng::from_seed(entropy);
    }

    /// The keys, primary first.
    pub fn keys(&self) -> Vec<Key> {
        self.keys.iter().map(|(k, _)| *k).collect()
    }

    /// Adds `key` (accepted from now on; sealing still uses the primary).
    /// Adding a key already held does nothing.
    pub fn add(&mut self, key: Key) -> Result<(), KeyringError> {
        if key.0 == [0; KEY_LEN] {
            return Err(KeyringError::ZeroKey);
        }
        if self.keys.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyringError::Full);
        }
        self.keys.push((key, XChaCha20Poly1305::new(&key.0.into())));
        Ok(())
    }

    /// Makes `key`, which must be in the keyring, the primary.
    pub fn use_key(&mut self, key: Key) -> Result<(), KeyringError> {
        let i = self.keys.iter().position(|(k, _)| *k == key).ok_or(KeyringError::UnknownKey)?;
        let entry = self.keys.remove(i);
        self.keys.insert(0, entry);
        Ok(())
    }

    /// Removes `key`, which must not be the primary.
    pub fn remove(&mut self, key: Key) -> Result<(), KeyringError> {
        let i = self.keys.iter().position(|(k, _)| *k == key).ok_or(KeyringError::UnknownKey)?;
        if i == 0 {
            return Err(KeyringError::RemovingPrimary);
        }
        self.keys.remove(i);
        Ok(())
    }

    fn aad(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(header.len() + self.label.len());
        aad.extend_from_slice(header);
        aad.extend_from_slice(&self.label);
        aad
    }

    /// Seals a plain datagram built by [`super::DatagramBuilder`] with the
    /// primary key. The result is [`SEAL_OVERHEAD`] bytes longer.
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        let mut header = [0u8; 4];
        header.copy_from_slice(&plain[..4]);
        header[3] |= FLAG_SEALED;
        let mut nonce = [0u8; NONCE_LEN];
        self.nonces.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(plain.len() + SEAL_OVERHEAD);
        out.extend_from_slice(&header);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(&plain[4..]);
        let aad = self.aad(&header);
        let cipher = &self.keys[0].1;
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut out[start..])
            .expect("XChaCha20-Poly1305 seals any length we send");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a datagram: returns the plain datagram (header flags cleared)
    /// for [`super::decode`]. A datagram with the wrong magic or version is
    /// returned as it is, so `decode` reports it as such.
    pub fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, OpenError> {
        if bytes.len() < 4 || bytes[..2] != MAGIC || bytes[2] != PROTOCOL_VERSION {
            return Ok(bytes.to_vec());
        }
        if bytes[3] & FLAG_SEALED == 0 {
            return Err(OpenError::Unencrypted);
        }
        if bytes.len() < 4 + SEAL_OVERHEAD + (HEADER_LEN - 4) {
            return Err(OpenError::Unauthenticated);
        }
        let header = &bytes[..4];
        let nonce = XNonce::from_slice(&bytes[4..4 + NONCE_LEN]);
        let body = &bytes[4 + NONCE_LEN..bytes.len() - TAG_LEN];
        let tag = &bytes[bytes.len() - TAG_LEN..];
        let aad = self.aad(header);
        let mut plain = Vec::with_capacity(4 + body.len());
        plain.extend_from_slice(header);
        plain[3] &= !FLAG_SEALED;
        plain.extend_from_slice(body);
        // A failed attempt checks the tag before decrypting anything and
        // leaves the buffer as it was, so one copy serves every key.
        for (_, cipher) in &self.keys {
            if cipher.decrypt_in_place_detached(nonce, &aad, &mut plain[4..], tag.into()).is_ok() {
                return Ok(plain);
            }
        }
        Err(OpenError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode, Ack, Message, Ping};

    fn ring(keys: &[Key], label: &str) -> Keyring {
        Keyring::new(keys, label.as_bytes(), [7; 32])
    }

    fn datagram() -> Vec<u8> {
        encode(&[Message::Ping(Ping { seq: 9, target: "b".into() }), Message::Ack(Ack { seq: 3 })])
    }

    #[test]
    fn sealed_round_trip_and_nothing_readable_on_the_wire() {
        let mut a = ring(&[Key([1; 32])], "prod");
        let plain = datagram();
        let sealed = a.seal(&plain);
        assert_eq!(sealed.len(), plain.len() + SEAL_OVERHEAD);
        assert_eq!(sealed[3], FLAG_SEALED);
        let secret = b"a-member-name-worth-hiding";
        let named =
            encode(&[Message::Ping(Ping { seq: 1, target: "a-member-name-worth-hiding".into() })]);
        assert!(named.windows(secret.len()).any(|w| w == secret));
        assert!(!a.seal(&named).windows(secret.len()).any(|w| w == secret), "names are hidden");
        let b = ring(&[Key([1; 32])], "prod");
        assert_eq!(decode(&b.open(&sealed).unwrap(), 1400).unwrap().len(), 2);
        // Fresh nonce each time: the same datagram never seals the same.
        assert_ne!(a.seal(&plain), sealed);
    }

    #[test]
    fn wrong_key_label_tampering_and_plaintext_are_refused() {
        let mut a = ring(&[Key([1; 32])], "prod");
        let sealed = a.seal(&datagram());
        assert_eq!(ring(&[Key([2; 32])], "prod").open(&sealed), Err(OpenError::Unauthenticated));
        assert_eq!(ring(&[Key([1; 32])], "test").open(&sealed), Err(OpenError::Unauthenticated));
        let b = ring(&[Key([1; 32])], "prod");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            let opened = b.open(&bad);
            // Flipping a magic or version byte makes it "not ours" (decode
            // rejects it); any other flip fails authentication.
            if i < 3 {
                assert!(opened.is_ok_and(|p| decode(&p, 1400).is_err()), "byte {i}");
            } else {
                assert!(opened.is_err(), "byte {i} flipped and still accepted");
            }
        }
        for len in 0..sealed.len() {
            let opened = b.open(&sealed[..len]);
            assert!(opened.is_err() || decode(&opened.unwrap(), 1400).is_err(), "length {len}");
        }
        assert_eq!(b.open(&datagram()), Err(OpenError::Unencrypted));
    }

    #[test]
    fn rotation_add_use_remove() {
        let (old, new) = (Key([1; 32]), Key([2; 32]));
        let mut a = ring(&[old], "");
        let mut b = ring(&[old], "");
        b.add(new).unwrap();
        assert_eq!(b.keys(), vec![old, new]);
        // b accepts both while a still seals with the old key.
        assert!(b.open(&a.seal(&datagram())).is_ok());
        a.add(new).unwrap();
        a.use_key(new).unwrap();
        assert!(b.open(&a.seal(&datagram())).is_ok(), "b holds the new key too");
        assert_eq!(a.remove(new), Err(KeyringError::RemovingPrimary));
        b.use_key(new).unwrap();
        b.remove(old).unwrap();
        let sealed_old = ring(&[old], "").seal(&datagram());
        assert_eq!(b.open(&sealed_old), Err(OpenError::Unauthenticated));
        assert_eq!(b.remove(old), Err(KeyringError::UnknownKey));
        assert_eq!(b.use_key(Key([9; 32])), Err(KeyringError::UnknownKey));
        for i in 0..MAX_KEYS as u8 {
            let _ = b.add(Key([100 + i; 32]));
        }
        assert_eq!(b.add(Key([250; 32])), Err(KeyringError::Full));
    }
}
