//! The data directory's format version: written when a node first uses a
//! directory, checked on every start, so a binary never opens a directory
//! written in a format it cannot read (a rolling upgrade's node refuses
//! to start and names the version it needs instead).

use std::path::Path;

/// File in the data directory holding its format version (a decimal
/// number and a newline).
pub const FORMAT_FILE: &str = "format-version";

/// The data directory format this binary writes and reads: the database
/// (`db`), the keys, the private API token and the consensus engine's
/// write-ahead log as laid out today.
pub const DATA_FORMAT_VERSION: u32 = 1;

/// Directory of the database in the data directory.
pub const DATABASE_DIR: &str = "db";

/// The format of a directory written before versions were recorded (one
/// holding a database or keys and no format file).
pub const UNVERSIONED_FORMAT: u32 = 1;

/// Longest format file the node reads, in bytes.
const FORMAT_FILE_BYTES_MAX: u64 = 64;

/// Why a data directory cannot be used by this binary.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Reading or writing the format file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        error: std::io::Error,
    },
    /// The format file does not hold a version number.
    #[error("{path} does not hold a data format version (a decimal number): not a file the node wrote")]
    Unreadable {
        /// The file.
        path: String,
    },
    /// The directory is in another format than this binary's.
    #[error(
        "the data directory {dir} is in format version {found}; this binary (wasmvisor {binary}) reads format \
         version {DATA_FORMAT_VERSION} only: run a wasmvisor release that reads version {found}"
    )]
    Unsupported {
        /// The data directory.
        dir: String,
        /// Its version.
        found: u32,
        /// This binary's version.
        binary: &'static str,
    },
}

/// Checks that `data_dir` (which exists) is in [`DATA_FORMAT_VERSION`],
/// recording a version in a directory that has none: this binary's in a
/// new one, [`UNVERSIONED_FORMAT`] in one written before versions were
/// recorded (then checked like any other).
pub fn check_format(data_dir: &Path) -> Result<(), FormatError> {
    let path = data_dir.join(FORMAT_FILE);
    let display = path.display().to_string();
    let io = |error| FormatError::Io {
        path: display.clone(),
        error,
    };
    let text = match std::fs::File::open(&path) {
        Ok(file) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(file, FORMAT_FILE_BYTES_MAX), &mut bytes)
                .map_err(io)?;
            String::from_utf8(bytes).map_err(|_| FormatError::Unreadable { path: display.clone() })?
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let written_before = [DATABASE_DIR, crate::keys::KEYS_FILE]
                .iter()
                .any(|name| std::fs::symlink_metadata(data_dir.join(name)).is_ok());
            let version = if written_before {
                UNVERSIONED_FORMAT
            } else {
                DATA_FORMAT_VERSION
            };
            // Written whole or not at all: a crash leaves no half number.
            let temporary = data_dir.join(format!("{FORMAT_FILE}.tmp"));
            std::fs::write(&temporary, format!("{version}\n")).map_err(io)?;
            std::fs::File::open(&temporary)
                .and_then(|file| file.sync_all())
                .map_err(io)?;
            std::fs::rename(&temporary, &path).map_err(io)?;
            std::fs::File::open(data_dir)
                .and_then(|directory| directory.sync_all())
                .map_err(io)?;
            if version == DATA_FORMAT_VERSION {
                return Ok(());
            }
            version.to_string()
        }
        Err(error) => return Err(io(error)),
    };
    let found: u32 = text
        .trim()
        .parse()
        .map_err(|_| FormatError::Unreadable { path: display.clone() })?;
    if found != DATA_FORMAT_VERSION {
        return Err(FormatError::Unsupported {
            dir: data_dir.display().to_string(),
            found,
            binary: env!("CARGO_PKG_VERSION"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_gets_this_version_once_and_another_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        check_format(dir.path()).unwrap();
        let path = dir.path().join(FORMAT_FILE);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{DATA_FORMAT_VERSION}\n")
        );
        // Checked again: the same, nothing rewritten.
        check_format(dir.path()).unwrap();
        for (text, refused) in [
            (format!("{}\n", DATA_FORMAT_VERSION + 1), "is in format version 2"),
            ("0".to_owned(), "is in format version 0"),
            ("one".to_owned(), "does not hold a data format version"),
            ("".to_owned(), "does not hold a data format version"),
            ("1".repeat(100), "does not hold a data format version"),
            (format!("{DATA_FORMAT_VERSION} "), ""),
        ] {
            std::fs::write(&path, &text).unwrap();
            match check_format(dir.path()) {
                Ok(()) => assert!(refused.is_empty(), "{text:?} was accepted"),
                Err(error) => assert!(
                    !refused.is_empty() && error.to_string().contains(refused),
                    "{text:?}: {error}"
                ),
            }
        }
    }
}

#[cfg(test)]
mod unversioned_tests {
    use super::*;

    #[test]
    fn a_directory_written_before_versions_is_stamped_with_the_first_format() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(DATABASE_DIR)).unwrap();
        let checked = check_format(dir.path());
        assert_eq!(
            std::fs::read_to_string(dir.path().join(FORMAT_FILE)).unwrap(),
            format!("{UNVERSIONED_FORMAT}\n")
        );
        // Read by this binary exactly when it reads that format.
        assert_eq!(checked.is_ok(), UNVERSIONED_FORMAT == DATA_FORMAT_VERSION);
    }
}
