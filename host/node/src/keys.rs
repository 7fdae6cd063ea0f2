//! The validator's keys: the seeds in its data directory, readable by the
//! node's user only, created from the operating system's randomness on
//! first start.

use std::path::Path;

use ed25519_dalek::SigningKey;
use wasmvisor_proto::blockchain::ValidatorKeys;

/// File in the data directory holding the node's key seeds.
pub const KEYS_FILE: &str = "validator-keys.json";
/// Why the keys cannot be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file does not hold two 32-byte seeds, or there is no
    /// randomness to make them.
    #[error("{0}")]
    Io(String),
    /// The key file cannot be created or read safely.
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretFileError),
}

/// This validator's keys.
#[derive(Clone)]
pub struct NodeKeys {
    /// Signs precommits.
    pub consensus: SigningKey,
    /// Signs this node's transactions (to the supervisor).
    pub service: SigningKey,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct KeySeeds {
    consensus_seed: String,
    service_seed: String,
}

impl NodeKeys {
    /// Reads the keys from `data_dir`, creating them (from the operating
    /// system's randomness) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        let path = data_dir.join(KEYS_FILE);
        if !path.exists() {
            let keys = Self::generate()?;
            let stored = KeySeeds {
                consensus_seed: hex::encode(keys.consensus.to_bytes()),
                service_seed: hex::encode(keys.service.to_bytes()),
            };
            let text = serde_json::to_string_pretty(&stored).expect("plain strings serialize");
            crate::secrets::create(&path, text.as_bytes()).map_err(KeyError::Secret)?;
        }
        let text = crate::secrets::read(&path).map_err(KeyError::Secret)?;
        let stored: KeySeeds =
            serde_json::from_str(&text).map_err(|error| KeyError::Io(format!("{}: {error}", path.display())))?;
        let seed = |hex_seed: &str| {
            key_from_hex_seed(hex_seed)
                .ok_or_else(|| KeyError::Io(format!("{}: seeds are 32 bytes in hex", path.display())))
        };
        Ok(Self {
            consensus: seed(&stored.consensus_seed)?,
            service: seed(&stored.service_seed)?,
        })
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
}

/// A signing key from the operating system's randomness.
pub fn random_key() -> Result<SigningKey, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|error| KeyError::Io(format!("no randomness: {error}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A signing key from its 32-byte seed in hex (`None` if it is not one).
pub fn key_from_hex_seed(text: &str) -> Option<SigningKey> {
    let seed: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    Some(SigningKey::from_bytes(&seed))
}
