//! A notebook: the service the lifecycle tests drive through its whole
//! life. It takes a configuration (a title) and migrates its data.
//!
//! Data layouts: versions `1.x` keep the notes (proof list `notes`);
//! versions `2.x` also keep `note_count` (proof entry, u64), which the
//! data migration from `1.x` computes. A migration within one major
//! version is a fast-forward; from any other version it is unsupported.
//! A note reading exactly "poison" makes the data migration fail, on every
//! node alike.

use wasmvisor_sdk::{
    Call, ExecutionError, MigrationPlan, ProofEntry, ProofList, QueryError, Service, ServiceError, context,
};

/// Method 0: write a note; the arguments are its text (UTF-8).
const WRITE: u32 = 0;
/// Longest note, in bytes.
const NOTE_LEN_MAX: usize = 280;
/// Longest title, in bytes.
const TITLE_LEN_MAX: usize = 64;

#[derive(Debug, Clone, Copy, ServiceError)]
enum NotebookError {
    EmptyNote = 0,
    NoteTooLong = 1,
    InvalidTitle = 2,
    PoisonedNote = 3,
}

fn notes() -> ProofList<Vec<u8>> {
    ProofList::new("notes")
}

fn title() -> ProofEntry<String> {
    ProofEntry::new("title")
}

fn note_count() -> ProofEntry<u64> {
    ProofEntry::new("note_count")
}

fn parse_title(params: &[u8]) -> Result<String, ExecutionError> {
    match std::str::from_utf8(params) {
        Ok(text) if !text.is_empty() && text.len() <= TITLE_LEN_MAX => Ok(text.to_owned()),
        _ => Err(NotebookError::InvalidTitle.into()),
    }
}

fn major(version: &str) -> Option<&str> {
    version.split('.').next()
}

struct Notebook;

impl Service for Notebook {
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        if !params.is_empty() {
            title().set(&parse_title(&params)?)?;
        }
        Ok(())
    }

    fn resume(_params: Vec<u8>) -> Result<(), ExecutionError> {
        Ok(())
    }

    fn execute(call: Call) -> Result<(), ExecutionError> {
        call.require_default_interface()?;
        match call.method_id {
            WRITE => {
                context::require_transaction_author()?;
                if call.arguments.is_empty() {
                    return Err(NotebookError::EmptyNote.into());
                }
                if call.arguments.len() > NOTE_LEN_MAX {
                    return Err(NotebookError::NoteTooLong.into());
                }
                notes().push(&call.arguments)?;
                // Layout 2 keeps the count current.
                if let Some(count) = note_count().get()? {
                    note_count().set(&(count + 1))?;
                }
                Ok(())
            }
            _ => Err(call.no_such_method()),
        }
    }

    fn verify_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        parse_title(&params).map(drop)
    }

    fn apply_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        title().set(&parse_title(&params)?)
    }

    fn plan_migration(from_version: String) -> MigrationPlan {
        let this = context::instance().artifact.version;
        match (major(&from_version), major(&this)) {
            (Some(from), Some(to)) if from == to => MigrationPlan::FastForward,
            (Some("1"), Some("2")) => MigrationPlan::Data,
            _ => MigrationPlan::Unsupported,
        }
    }

    fn migrate_data(_from_version: String) -> Result<(), ExecutionError> {
        let all = notes().items()?;
        if all.iter().any(|note| note.as_slice() == b"poison") {
            return Err(NotebookError::PoisonedNote.into());
        }
        note_count().set(&(all.len() as u64))
    }

    fn query(method: String, _arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        let internal = |error: ExecutionError| QueryError::Internal(error.description);
        match method.as_str() {
            "count" => Ok(notes().len().map_err(internal)?.to_le_bytes().to_vec()),
            "title" => title()
                .get()
                .map_err(internal)?
                .map(String::into_bytes)
                .ok_or_else(|| QueryError::NotFound("no title".into())),
            "note-count" => note_count()
                .get()
                .map_err(internal)?
                .map(|count| count.to_le_bytes().to_vec())
                .ok_or_else(|| QueryError::NotFound("layout 1 keeps no note count".into())),
            _ => Err(QueryError::NotFound(method)),
        }
    }
}

wasmvisor_sdk::export_service!(Notebook);
