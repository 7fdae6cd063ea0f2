//! Files only the node's user may read: the validator's key seeds and the
//! private API's token. They are created with mode 0600, and read only
//! while no group or other user can read them (a node refuses to start
//! otherwise, naming the file).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file in a node's data directory that holds the private API's
/// bearer token when its configuration names none.
pub const PRIVATE_API_TOKEN_FILE: &str = "private-api-token";

/// Longest secret file the node reads, in bytes (a key file is about 200).
pub const SECRET_FILE_BYTES_MAX: u64 = 4096;

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// Reading or writing it failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// Users other than the node's own may read it.
    #[error(
        "{path} is readable by group or others (mode {mode:04o}): it holds secrets; run `chmod 600 {path}` and start again"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It is larger than any secret file the node writes.
    #[error("{path} is larger than {SECRET_FILE_BYTES_MAX} bytes: not a key, token or passphrase file")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SecretFileError + '_ {
    move |error| SecretFileError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Creates `path` with mode 0600 (failing if it exists) and writes
/// `contents` to it, synced.
pub fn create(path: &Path, contents: &[u8]) -> Result<(), SecretFileError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(contents).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Reads `path`, refusing it unless it is a regular file (not a link, a
/// pipe or a device) that neither group nor others may read or write, of
/// at most [`SECRET_FILE_BYTES_MAX`] bytes. The checks are made on the
/// opened file, and no more than the limit is ever read.
pub fn read(path: &Path) -> Result<String, SecretFileError> {
    let not_regular = || SecretFileError::Io {
        path: path.to_owned(),
        error: std::io::Error::other("not a regular file"),
    };
    if !std::fs::symlink_metadata(path).map_err(io(path))?.file_type().is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(io(path))?;
    let metadata = file.metadata().map_err(io(path))?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(SecretFileError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    // Room for the whole limit at once: no smaller copy of a secret is
    // left behind by a reallocation.
    let mut bytes = Vec::with_capacity(SECRET_FILE_BYTES_MAX as usize + 1);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, SECRET_FILE_BYTES_MAX + 1), &mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > SECRET_FILE_BYTES_MAX {
        zeroize::Zeroize::zeroize(&mut bytes);
        return Err(SecretFileError::TooLarge { path: path.to_owned() });
    }
    String::from_utf8(bytes).map_err(|error| {
        let mut bytes = error.into_bytes();
        zeroize::Zeroize::zeroize(&mut bytes);
        SecretFileError::Io {
            path: path.to_owned(),
            error: std::io::Error::other("not UTF-8 text"),
        }
    })
}

/// A new bearer token: 32 bytes of the operating system's randomness, in
/// hex.
pub fn random_token() -> Result<String, SecretFileError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| SecretFileError::Io {
        path: PathBuf::from("(randomness)"),
        error: std::io::Error::other(error.to_string()),
    })?;
    Ok(hex::encode(bytes))
}

/// The private API token kept in `data_dir` ([`PRIVATE_API_TOKEN_FILE`]),
/// created on first use.
pub fn load_or_create_token(data_dir: &Path) -> Result<String, SecretFileError> {
    let path = data_dir.join(PRIVATE_API_TOKEN_FILE);
    if std::fs::symlink_metadata(&path).is_err() {
        create(&path, random_token()?.as_bytes())?;
    }
    read_token(&path)
}

/// The bearer token kept in `path` (what [`load_or_create_token`] made):
/// read as a secret file, trimmed, and refused when shorter than
/// [`crate::config::TOKEN_LEN_MIN`].
pub fn read_token(path: &Path) -> Result<String, SecretFileError> {
    let token = read(path)?.trim().to_owned();
    if token.len() < crate::config::TOKEN_LEN_MIN {
        return Err(SecretFileError::Io {
            path: path.to_owned(),
            error: std::io::Error::other(format!(
                "a token has at least {} characters; remove the file to have a new one made",
                crate::config::TOKEN_LEN_MIN
            )),
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_created_private_and_refused_once_exposed() {
        let dir = tempfile::tempdir().unwrap();
        let token = load_or_create_token(dir.path()).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(
            load_or_create_token(dir.path()).unwrap(),
            token,
            "the same token on restart"
        );
        let path = dir.path().join(PRIVATE_API_TOKEN_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            for mode in [0o640, 0o604, 0o602, 0o660] {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
                let error = load_or_create_token(dir.path()).unwrap_err().to_string();
                assert!(
                    error.contains(&path.display().to_string()) && error.contains("chmod 600"),
                    "{error}"
                );
            }
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
            assert_eq!(
                load_or_create_token(dir.path()).unwrap(),
                token,
                "owner-only modes are fine"
            );
        }
        assert!(create(&path, b"again").is_err(), "never overwrites");
        let large = dir.path().join("large");
        create(&large, &vec![b'a'; SECRET_FILE_BYTES_MAX as usize + 1]).unwrap();
        assert!(matches!(read(&large), Err(SecretFileError::TooLarge { .. })));
        let limit = dir.path().join("limit");
        create(&limit, &vec![b'a'; SECRET_FILE_BYTES_MAX as usize]).unwrap();
        assert_eq!(read(&limit).unwrap().len() as u64, SECRET_FILE_BYTES_MAX);
        // A link to a private file, or a directory, is not read.
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&limit, &link).unwrap();
            assert!(read(&link).unwrap_err().to_string().contains("not a regular file"));
        }
        assert!(read(dir.path()).unwrap_err().to_string().contains("not a regular file"));
        // A token file emptied (or cut short) is refused, not used.
        let short = tempfile::tempdir().unwrap();
        create(&short.path().join(PRIVATE_API_TOKEN_FILE), b"  \n").unwrap();
        assert!(
            load_or_create_token(short.path())
                .unwrap_err()
                .to_string()
                .contains("at least")
        );
    }
}
