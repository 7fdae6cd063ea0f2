//! The validator's keys: two Ed25519 seeds in its data directory, in a
//! file only the node's user may read. A validator's file is encrypted
//! with a passphrase: the seeds are sealed with XChaCha20-Poly1305 under a
//! key derived from the passphrase by Argon2id (memory-hard), and only the
//! public keys are in clear text. A development node (`run-dev`) keeps
//! its seeds unencrypted, and says so in its log.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use wasmvisor_proto::blockchain::ValidatorKeys;
use zeroize::Zeroizing;

/// File in the data directory holding the node's key seeds.
pub const KEYS_FILE: &str = "validator-keys.json";

/// Environment variable that may hold the passphrase itself.
pub const PASSPHRASE_ENV: &str = "WASMVISOR_KEY_PASSPHRASE";

/// Fewest bytes of a passphrase.
pub const PASSPHRASE_BYTES_MIN: usize = 8;

/// Argon2id's memory for a new key file, in KiB (64 MiB and 3 passes, as
/// in the second recommended option of RFC 9106, which has 4 lanes; one
/// lane here, no weaker).
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id's passes over that memory for a new key file.
pub const KDF_ITERATIONS: u32 = 3;
/// Argon2id's lanes for a new key file.
pub const KDF_PARALLELISM: u32 = 1;
/// The most memory a key file may ask Argon2id for, in KiB (1 GiB): a file
/// asking more is refused rather than followed.
pub const KDF_MEMORY_KIB_MAX: u32 = 1024 * 1024;
/// The most passes a key file may ask for.
pub const KDF_ITERATIONS_MAX: u32 = 16;
/// The most lanes a key file may ask for.
pub const KDF_PARALLELISM_MAX: u32 = 16;

const _: () = assert!(KDF_MEMORY_KIB <= KDF_MEMORY_KIB_MAX);
const _: () = assert!(KDF_ITERATIONS <= KDF_ITERATIONS_MAX && KDF_PARALLELISM <= KDF_PARALLELISM_MAX);

/// The scheme an encrypted key file names.
const ENCRYPTION: &str = "argon2id-xchacha20poly1305";
const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 24;
/// Two 32-byte seeds, sealed together.
const SEEDS_BYTES: usize = 64;

/// Why the keys cannot be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file does not hold what a key file holds, or there is no
    /// randomness to make keys.
    #[error("{0}")]
    Io(String),
    /// The key file cannot be created or read safely.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretFileError),
    /// The key file is encrypted and no passphrase was given.
    #[error(
        "{0} is encrypted and no passphrase was given: name a passphrase file (key_passphrase_file in the node's \
         configuration; --passphrase-file for `wasmvisor keys validator`) or set {PASSPHRASE_ENV}"
    )]
    NoPassphrase(PathBuf),
    /// A passphrase was given for keys that are not sealed.
    #[error(
        "{0} holds unencrypted keys, but this node is configured with a passphrase: seal them with `wasmvisor keys \
         validator change-passphrase`, or remove the passphrase from the configuration (development only)"
    )]
    NotSealed(PathBuf),
    /// The passphrase does not open the key file.
    #[error("the passphrase does not open {0} (a wrong passphrase, or the file was changed)")]
    WrongPassphrase(PathBuf),
    /// The passphrase given is not one (too short).
    #[error("{0}")]
    BadPassphrase(String),
}

/// A passphrase, wiped from memory when dropped.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// A passphrase of at least [`PASSPHRASE_BYTES_MIN`] bytes; `source`
    /// names where it came from in the error.
    pub fn new(text: String, source: &str) -> Result<Self, KeyError> {
        let text = Zeroizing::new(text);
        if text.len() < PASSPHRASE_BYTES_MIN {
            return Err(KeyError::BadPassphrase(format!(
                "the passphrase from {source} has {} bytes; a passphrase has at least {PASSPHRASE_BYTES_MIN}",
                text.len()
            )));
        }
        Ok(Self(text))
    }

    /// The first line of `path`, a secret file: refused when group or
    /// others may read it, or when it is not a regular file
    /// ([`crate::secrets::read`]).
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = Zeroizing::new(crate::secrets::read(path)?);
        let line = text.lines().next().unwrap_or_default().to_owned();
        Self::new(line, &path.display().to_string())
    }

    /// The passphrase in [`PASSPHRASE_ENV`], if it is set.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        match std::env::var(PASSPHRASE_ENV) {
            Ok(text) => Self::new(text, PASSPHRASE_ENV).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(KeyError::BadPassphrase(format!("{PASSPHRASE_ENV} is not UTF-8 text")))
            }
        }
    }

    /// From `file` if given, else from [`PASSPHRASE_ENV`], else `None`.
    pub fn from_file_or_env(file: Option<&Path>) -> Result<Option<Self>, KeyError> {
        match file {
            Some(path) => Self::from_file(path).map(Some),
            None => Self::from_env(),
        }
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether this passphrase is `text` (a second prompt's answer).
    pub fn is(&self, text: &str) -> bool {
        self.0.as_str() == text
    }
}

/// This validator's keys.
#[derive(Clone)]
pub struct NodeKeys {
    /// Signs precommits.
    pub consensus: SigningKey,
    /// Signs this node's transactions (to the supervisor).
    pub service: SigningKey,
}

/// A development key file: the seeds in clear text.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySeeds {
    consensus_seed: String,
    service_seed: String,
}

/// An encrypted key file.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedSeeds {
    /// [`ENCRYPTION`].
    encryption: String,
    /// The public keys (hex), readable without the passphrase; bound to
    /// the sealed seeds (they are the AEAD's associated data).
    consensus_key: String,
    service_key: String,
    kdf_memory_kib: u32,
    kdf_iterations: u32,
    kdf_parallelism: u32,
    /// Hex.
    salt: String,
    /// Hex.
    nonce: String,
    /// The two seeds sealed, hex.
    ciphertext: String,
}

impl SealedSeeds {
    /// What the AEAD authenticates besides the seeds: every other field.
    fn associated_data(&self) -> Vec<u8> {
        format!(
            "wasmvisor validator keys\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.encryption,
            self.consensus_key,
            self.service_key,
            self.kdf_memory_kib,
            self.kdf_iterations,
            self.kdf_parallelism,
            self.salt,
            self.nonce
        )
        .into_bytes()
    }
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum StoredKeys {
    Sealed(SealedSeeds),
    Plain(KeySeeds),
}

/// The 32-byte key Argon2id derives from `passphrase`.
fn derive_key(
    passphrase: &Passphrase,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    if memory_kib > KDF_MEMORY_KIB_MAX || iterations > KDF_ITERATIONS_MAX || parallelism > KDF_PARALLELISM_MAX {
        return Err(KeyError::Io(format!(
            "the key file asks Argon2id for {memory_kib} KiB, {iterations} passes and {parallelism} lanes; at most \
             {KDF_MEMORY_KIB_MAX} KiB, {KDF_ITERATIONS_MAX} and {KDF_PARALLELISM_MAX} are followed"
        )));
    }
    let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32))
        .map_err(|error| KeyError::Io(format!("the key file's Argon2id parameters: {error}")))?;
    let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    kdf.hash_password_into(passphrase.bytes(), salt, &mut key[..])
        .map_err(|error| KeyError::Io(format!("Argon2id: {error}")))?;
    Ok(key)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| KeyError::Io(format!("no randomness: {error}")))?;
    Ok(bytes)
}

impl NodeKeys {
    /// Reads the keys from `data_dir`, creating them (from the operating
    /// system's randomness) on first start: sealed with `passphrase` if one
    /// is given, else unencrypted (a development node). A sealed file needs
    /// its passphrase; an unencrypted one is read with or without one.
    pub fn open_or_create(data_dir: &Path, passphrase: Option<&Passphrase>) -> Result<Self, KeyError> {
        let path = data_dir.join(KEYS_FILE);
        if std::fs::symlink_metadata(&path).is_err() {
            let keys = Self::generate()?;
            keys.write(&path, passphrase)?;
            return Ok(keys);
        }
        Self::open(data_dir, passphrase)
    }

    /// Reads the keys from `data_dir` ([`NodeKeys::open_or_create`]
    /// without creating them).
    pub fn open(data_dir: &Path, passphrase: Option<&Passphrase>) -> Result<Self, KeyError> {
        let path = data_dir.join(KEYS_FILE);
        match read_stored(&path)? {
            StoredKeys::Plain(seeds) => Self::from_seeds(&path, &seeds),
            StoredKeys::Sealed(sealed) => {
                let passphrase = passphrase.ok_or_else(|| KeyError::NoPassphrase(path.clone()))?;
                Self::unseal(&path, &sealed, passphrase)
            }
        }
    }

    /// The keys of the node `config` describes, opened with the passphrase
    /// in its `key_passphrase_file`, else in [`PASSPHRASE_ENV`]; created on
    /// first start (unencrypted without a passphrase: a development node,
    /// which the log says). With a passphrase, unencrypted keys are refused
    /// (a sealed file swapped for a plain one must not start).
    pub fn for_config(config: &crate::config::NodeConfig) -> Result<Self, KeyError> {
        let passphrase = Passphrase::from_file_or_env(config.key_passphrase_file.as_deref())?;
        let path = config.data_dir.join(KEYS_FILE);
        let created = std::fs::symlink_metadata(&path).is_err();
        if !created && passphrase.is_some() && !Self::is_sealed(&config.data_dir)? {
            return Err(KeyError::NotSealed(path));
        }
        let keys = Self::open_or_create(&config.data_dir, passphrase.as_ref())?;
        if passphrase.is_none() {
            let what = if created { "created" } else { "read" };
            tracing::warn!(
                "this node's keys are unencrypted ({what} {}): fit for development only; seal them with `wasmvisor \
                 keys validator change-passphrase`",
                path.display()
            );
        }
        Ok(keys)
    }

    /// Reads unencrypted keys from `data_dir`, creating them on first
    /// start (a development node's keys; see [`NodeKeys::open_or_create`]).
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        Self::open_or_create(data_dir, None)
    }

    /// The public keys in `data_dir`'s key file, read without the
    /// passphrase.
    pub fn public_keys(data_dir: &Path) -> Result<ValidatorKeys, KeyError> {
        let path = data_dir.join(KEYS_FILE);
        match read_stored(&path)? {
            StoredKeys::Plain(seeds) => Ok(Self::from_seeds(&path, &seeds)?.validator_keys()),
            StoredKeys::Sealed(sealed) => {
                let key = |text: &str| {
                    hex::decode(text)
                        .ok()
                        .filter(|bytes| bytes.len() == 32)
                        .ok_or_else(|| KeyError::Io(format!("{}: public keys are 32 bytes in hex", path.display())))
                };
                Ok(ValidatorKeys {
                    consensus_key: key(&sealed.consensus_key)?,
                    service_key: key(&sealed.service_key)?,
                })
            }
        }
    }

    /// Whether `data_dir`'s key file is sealed with a passphrase.
    pub fn is_sealed(data_dir: &Path) -> Result<bool, KeyError> {
        Ok(matches!(read_stored(&data_dir.join(KEYS_FILE))?, StoredKeys::Sealed(_)))
    }

    /// Seals the keys in `data_dir` with `new`, after opening them with
    /// `old` (not needed for unencrypted keys). The file is replaced whole:
    /// the new one is written (synced) beside it under a name of its own,
    /// renamed over it, and the directory synced, so a crash leaves the old
    /// file or the new one, never a mix or a rollback after success.
    pub fn change_passphrase(data_dir: &Path, old: Option<&Passphrase>, new: &Passphrase) -> Result<Self, KeyError> {
        let keys = Self::open(data_dir, old)?;
        let path = data_dir.join(KEYS_FILE);
        let io = |error: std::io::Error| KeyError::Io(format!("{}: {error}", path.display()));
        let suffix: [u8; 8] = random_bytes()?;
        let temporary = data_dir.join(format!("{KEYS_FILE}.{}.new", hex::encode(suffix)));
        keys.write(&temporary, Some(new))?;
        if let Err(error) = std::fs::rename(&temporary, &path) {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(error));
        }
        std::fs::File::open(data_dir)
            .and_then(|directory| directory.sync_all())
            .map_err(io)?;
        Ok(keys)
    }

    /// Keys from the operating system's randomness, kept nowhere.
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self {
            consensus: random_key()?,
            service: random_key()?,
        })
    }

    /// The public keys, as the consensus configuration names them.
    pub fn validator_keys(&self) -> ValidatorKeys {
        ValidatorKeys {
            consensus_key: self.consensus.verifying_key().to_bytes().to_vec(),
            service_key: self.service.verifying_key().to_bytes().to_vec(),
        }
    }

    /// Creates `path` (mode 0600, never overwriting) with these keys,
    /// sealed with `passphrase` if given.
    fn write(&self, path: &Path, passphrase: Option<&Passphrase>) -> Result<(), KeyError> {
        let text = Zeroizing::new(
            match passphrase {
                None => serde_json::to_string_pretty(&KeySeeds {
                    consensus_seed: hex::encode(self.consensus.to_bytes()),
                    service_seed: hex::encode(self.service.to_bytes()),
                }),
                Some(passphrase) => serde_json::to_string_pretty(&self.seal(passphrase)?),
            }
            .expect("plain strings and numbers serialize"),
        );
        crate::secrets::create(path, text.as_bytes()).map_err(KeyError::Secret)
    }

    fn seal(&self, passphrase: &Passphrase) -> Result<SealedSeeds, KeyError> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let salt: [u8; SALT_BYTES] = random_bytes()?;
        let nonce: [u8; NONCE_BYTES] = random_bytes()?;
        let mut sealed = SealedSeeds {
            encryption: ENCRYPTION.into(),
            consensus_key: hex::encode(self.consensus.verifying_key().to_bytes()),
            service_key: hex::encode(self.service.verifying_key().to_bytes()),
            kdf_memory_kib: KDF_MEMORY_KIB,
            kdf_iterations: KDF_ITERATIONS,
            kdf_parallelism: KDF_PARALLELISM,
            salt: hex::encode(salt),
            nonce: hex::encode(nonce),
            ciphertext: String::new(),
        };
        let key = derive_key(passphrase, &salt, KDF_MEMORY_KIB, KDF_ITERATIONS, KDF_PARALLELISM)?;
        let mut seeds = Zeroizing::new([0u8; SEEDS_BYTES]);
        seeds[..32].copy_from_slice(&self.consensus.to_bytes());
        seeds[32..].copy_from_slice(&self.service.to_bytes());
        let cipher = chacha20poly1305::XChaCha20Poly1305::new((&*key).into());
        let aad = sealed.associated_data();
        let ciphertext = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: seeds.as_ref(),
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Io("the keys cannot be sealed".into()))?;
        sealed.ciphertext = hex::encode(ciphertext);
        Ok(sealed)
    }

    fn unseal(path: &Path, sealed: &SealedSeeds, passphrase: &Passphrase) -> Result<Self, KeyError> {
        use chacha20poly1305::aead::{Aead, KeyInit, Payload};
        let malformed = |what: &str| KeyError::Io(format!("{}: {what}", path.display()));
        if sealed.encryption != ENCRYPTION {
            return Err(malformed(&format!(
                "encrypted with {:?}; this node reads {ENCRYPTION:?}",
                sealed.encryption
            )));
        }
        let salt = hex::decode(&sealed.salt).map_err(|_| malformed("the salt is not hex"))?;
        let nonce: [u8; NONCE_BYTES] = hex::decode(&sealed.nonce)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| malformed("the nonce is not 24 bytes in hex"))?;
        let ciphertext = hex::decode(&sealed.ciphertext).map_err(|_| malformed("the ciphertext is not hex"))?;
        let key = derive_key(
            passphrase,
            &salt,
            sealed.kdf_memory_kib,
            sealed.kdf_iterations,
            sealed.kdf_parallelism,
        )?;
        let cipher = chacha20poly1305::XChaCha20Poly1305::new((&*key).into());
        let aad = sealed.associated_data();
        let seeds = Zeroizing::new(
            cipher
                .decrypt(
                    &nonce.into(),
                    Payload {
                        msg: &ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| KeyError::WrongPassphrase(path.to_owned()))?,
        );
        if seeds.len() != SEEDS_BYTES {
            return Err(malformed("the sealed seeds are not two 32-byte seeds"));
        }
        let seed = |range: std::ops::Range<usize>| {
            let mut bytes = Zeroizing::new([0u8; 32]);
            bytes.copy_from_slice(&seeds[range]);
            SigningKey::from_bytes(&bytes)
        };
        let keys = Self {
            consensus: seed(0..32),
            service: seed(32..64),
        };
        // Bound by the AEAD already; checked so a file can never name
        // public keys other than its seeds'.
        if hex::encode(keys.consensus.verifying_key().to_bytes()) != sealed.consensus_key
            || hex::encode(keys.service.verifying_key().to_bytes()) != sealed.service_key
        {
            return Err(malformed("the public keys are not the sealed seeds'"));
        }
        Ok(keys)
    }

    fn from_seeds(path: &Path, stored: &KeySeeds) -> Result<Self, KeyError> {
        let seed = |hex_seed: &str| {
            key_from_hex_seed(hex_seed)
                .ok_or_else(|| KeyError::Io(format!("{}: seeds are 32 bytes in hex", path.display())))
        };
        Ok(Self {
            consensus: seed(&stored.consensus_seed)?,
            service: seed(&stored.service_seed)?,
        })
    }
}

/// The key file at `path`, as a secret file, in either form.
fn read_stored(path: &Path) -> Result<StoredKeys, KeyError> {
    let text = Zeroizing::new(crate::secrets::read(path)?);
    serde_json::from_str(&text).map_err(|_| {
        KeyError::Io(format!(
            "{}: not a key file (neither sealed keys nor a development node's seeds)",
            path.display()
        ))
    })
}

/// A signing key from the operating system's randomness.
pub fn random_key() -> Result<SigningKey, KeyError> {
    let seed = Zeroizing::new(random_bytes::<32>()?);
    Ok(SigningKey::from_bytes(&seed))
}

/// A signing key from its 32-byte seed in hex (`None` if it is not one).
pub fn key_from_hex_seed(text: &str) -> Option<SigningKey> {
    let seed: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passphrase(text: &str) -> Passphrase {
        Passphrase::new(text.into(), "the test").unwrap()
    }

    fn stored(dir: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(KEYS_FILE)).unwrap()).unwrap()
    }

    fn write(dir: &Path, value: &serde_json::Value) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(KEYS_FILE);
        std::fs::write(&path, value.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn sealed_keys_open_with_their_passphrase_only_and_hold_no_seed_in_clear_text() {
        let dir = tempfile::tempdir().unwrap();
        let right = passphrase("the right passphrase");
        let keys = NodeKeys::open_or_create(dir.path(), Some(&right)).unwrap();
        let text = std::fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        for seed in [keys.consensus.to_bytes(), keys.service.to_bytes()] {
            assert!(!text.contains(&hex::encode(seed)), "{text}");
        }
        assert!(NodeKeys::is_sealed(dir.path()).unwrap());
        assert_eq!(NodeKeys::public_keys(dir.path()).unwrap(), keys.validator_keys());
        let opened = NodeKeys::open(dir.path(), Some(&right)).unwrap();
        assert_eq!(opened.validator_keys(), keys.validator_keys());
        assert_eq!(opened.consensus.to_bytes(), keys.consensus.to_bytes());
        assert!(matches!(
            NodeKeys::open(dir.path(), Some(&passphrase("the wrong passphrase"))),
            Err(KeyError::WrongPassphrase(_))
        ));
        assert!(matches!(
            NodeKeys::open(dir.path(), None),
            Err(KeyError::NoPassphrase(_))
        ));
        // Opened again, never created again.
        let again = NodeKeys::open_or_create(dir.path(), Some(&right)).unwrap();
        assert_eq!(again.validator_keys(), keys.validator_keys());
    }

    #[test]
    fn a_changed_byte_of_a_sealed_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let right = passphrase("the right passphrase");
        let keys = NodeKeys::open_or_create(dir.path(), Some(&right)).unwrap();
        let original = stored(dir.path());
        let other = hex::encode(random_key().unwrap().verifying_key().to_bytes());
        let flip = |text: &str| {
            let mut bytes = hex::decode(text).unwrap();
            bytes[0] ^= 1;
            hex::encode(bytes)
        };
        let changes: Vec<(&str, serde_json::Value)> = vec![
            ("consensus_key", other.clone().into()),
            ("service_key", other.into()),
            ("salt", flip(original["salt"].as_str().unwrap()).into()),
            ("nonce", flip(original["nonce"].as_str().unwrap()).into()),
            ("ciphertext", flip(original["ciphertext"].as_str().unwrap()).into()),
            ("kdf_iterations", (KDF_ITERATIONS + 1).into()),
        ];
        for (field, value) in changes {
            let mut changed = original.clone();
            changed[field] = value;
            write(dir.path(), &changed);
            assert!(
                matches!(
                    NodeKeys::open(dir.path(), Some(&right)),
                    Err(KeyError::WrongPassphrase(_))
                ),
                "{field}"
            );
        }
        // Parameters past the limits are not followed at all.
        for (field, value) in [
            ("kdf_memory_kib", KDF_MEMORY_KIB_MAX + 1),
            ("kdf_iterations", KDF_ITERATIONS_MAX + 1),
            ("kdf_parallelism", KDF_PARALLELISM_MAX + 1),
        ] {
            let mut changed = original.clone();
            changed[field] = value.into();
            write(dir.path(), &changed);
            let error = NodeKeys::open(dir.path(), Some(&right)).err().unwrap().to_string();
            assert!(error.contains("are followed"), "{field}: {error}");
        }
        let mut changed = original.clone();
        changed["encryption"] = "rot13".into();
        write(dir.path(), &changed);
        let error = NodeKeys::open(dir.path(), Some(&right)).err().unwrap().to_string();
        assert!(error.contains("encrypted with \"rot13\""), "{error}");
        write(dir.path(), &original);
        assert_eq!(
            NodeKeys::open(dir.path(), Some(&right)).unwrap().validator_keys(),
            keys.validator_keys()
        );
    }

    #[test]
    fn a_new_passphrase_seals_the_same_keys_and_development_keys_can_be_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let development = NodeKeys::load_or_create(dir.path()).unwrap();
        assert!(!NodeKeys::is_sealed(dir.path()).unwrap());
        // Unencrypted keys open with or without a passphrase.
        assert!(NodeKeys::open(dir.path(), Some(&passphrase("any passphrase at all"))).is_ok());
        let first = passphrase("the first passphrase");
        NodeKeys::change_passphrase(dir.path(), None, &first).unwrap();
        assert!(NodeKeys::is_sealed(dir.path()).unwrap());
        let second = passphrase("the second passphrase");
        assert!(matches!(
            NodeKeys::change_passphrase(dir.path(), Some(&second), &second),
            Err(KeyError::WrongPassphrase(_))
        ));
        NodeKeys::change_passphrase(dir.path(), Some(&first), &second).unwrap();
        assert!(matches!(
            NodeKeys::open(dir.path(), Some(&first)),
            Err(KeyError::WrongPassphrase(_))
        ));
        let opened = NodeKeys::open(dir.path(), Some(&second)).unwrap();
        assert_eq!(opened.consensus.to_bytes(), development.consensus.to_bytes());
        assert_eq!(opened.service.to_bytes(), development.service.to_bytes());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| name != KEYS_FILE)
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_node_configured_with_a_passphrase_refuses_unencrypted_keys() {
        let dir = tempfile::tempdir().unwrap();
        let development = NodeKeys::load_or_create(dir.path()).unwrap();
        let mut config = crate::config::NodeConfig::development(dir.path().to_owned());
        // Without a passphrase: a development node, as before.
        assert_eq!(
            NodeKeys::for_config(&config).unwrap().validator_keys(),
            development.validator_keys()
        );
        let file = dir.path().join("passphrase");
        crate::secrets::create(&file, b"the right passphrase\n").unwrap();
        config.key_passphrase_file = Some(file.clone());
        assert!(matches!(NodeKeys::for_config(&config), Err(KeyError::NotSealed(_))));
        // Sealed, the same configuration opens them.
        NodeKeys::change_passphrase(dir.path(), None, &Passphrase::from_file(&file).unwrap()).unwrap();
        assert_eq!(
            NodeKeys::for_config(&config).unwrap().validator_keys(),
            development.validator_keys()
        );
    }

    #[test]
    fn a_passphrase_is_refused_below_its_length_and_read_from_a_private_file() {
        let short = "x".repeat(PASSPHRASE_BYTES_MIN - 1);
        assert!(matches!(
            Passphrase::new(short, "here"),
            Err(KeyError::BadPassphrase(_))
        ));
        assert!(Passphrase::new("x".repeat(PASSPHRASE_BYTES_MIN), "here").is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passphrase");
        crate::secrets::create(&path, b"the passphrase\nand a second line").unwrap();
        assert!(Passphrase::from_file(&path).unwrap().is("the passphrase"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let error = Passphrase::from_file(&path).err().unwrap().to_string();
        assert!(error.contains("readable by group or others"), "{error}");
    }
}
