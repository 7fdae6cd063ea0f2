//! A notebook: the service the lifecycle tests drive through its whole
//! life. It takes a configuration (a title) and migrates its data.
//!
//! Data layouts: versions `1.x` keep the notes (proof list `notes`);
//! versions `2.x` also keep `note_count` (proof entry, u64), which the
//! data migration from `1.x` computes. A migration within one major
//! version is a fast-forward; from any other version it is unsupported.
//! A note reading exactly "poison" makes the data migration fail, on every
//! node alike.
//!
//! Node-local: a node whose configuration sets `announce` for a notebook
//! writes that note once, signed by the node (a broadcast from
//! after-commit); one that sets `flood` tries more broadcasts than a
//! service may make.

use wasmvisor_sdk::{ExecutionError, MigrationPlan, ProofEntry, ProofList, QueryError, ServiceError, context, node};

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

/// A title is 1 to `TITLE_LEN_MAX` bytes of UTF-8 (checked here rather
/// than by the payload type, so that every bad title is `InvalidTitle`).
fn parse_title(params: &[u8]) -> Result<String, ExecutionError> {
    match std::str::from_utf8(params) {
        Ok(text) if !text.is_empty() && text.len() <= TITLE_LEN_MAX => Ok(text.to_owned()),
        _ => Err(NotebookError::InvalidTitle.into()),
    }
}

/// Tries more broadcasts, and a larger one, than a service may make (the
/// node keeps the first four, each small); once.
fn flood() {
    let flooded = notes()
        .items()
        .map_or(true, |all| all.iter().any(|note| note == b"flood-0"));
    if !flooded {
        let _ = node::broadcast(0, vec![b'x'; 64 * 1024 + 1]);
        for index in 0..8 {
            let _ = node::broadcast(0, format!("flood-{index}").into_bytes());
        }
    }
}

fn major(version: &str) -> Option<&str> {
    version.split('.').next()
}

struct Notebook;

#[wasmvisor_sdk::service(errors = NotebookError)]
impl Notebook {
    /// The title, if any.
    #[constructor]
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        if !params.is_empty() {
            title().set(&parse_title(&params)?)?;
        }
        Ok(())
    }

    #[hook]
    fn resume(_params: Vec<u8>) -> Result<(), ExecutionError> {
        Ok(())
    }

    /// Writes a note; the arguments are its text (UTF-8).
    #[method(id = 0)]
    fn write(note: Vec<u8>) -> Result<(), ExecutionError> {
        context::require_transaction_author()?;
        if note.is_empty() {
            return Err(NotebookError::EmptyNote.into());
        }
        if note.len() > NOTE_LEN_MAX {
            return Err(NotebookError::NoteTooLong.into());
        }
        notes().push(&note)?;
        // Layout 2 keeps the count current.
        if let Some(count) = note_count().get()? {
            note_count().set(&(count + 1))?;
        }
        Ok(())
    }

    #[verify_config]
    fn verify_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        parse_title(&params).map(drop)
    }

    #[apply_config]
    fn apply_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        title().set(&parse_title(&params)?)
    }

    #[hook]
    fn plan_migration(from_version: String) -> MigrationPlan {
        let this = context::instance().artifact.version;
        match (major(&from_version), major(&this)) {
            (Some(from), Some(to)) if from == to => MigrationPlan::FastForward,
            (Some("1"), Some("2")) => MigrationPlan::Data,
            _ => MigrationPlan::Unsupported,
        }
    }

    #[hook]
    fn migrate_data(_from_version: String) -> Result<(), ExecutionError> {
        let all = notes().items()?;
        if all.iter().any(|note| note.as_slice() == b"poison") {
            return Err(NotebookError::PoisonedNote.into());
        }
        note_count().set(&(all.len() as u64))
    }

    #[hook]
    fn after_commit() {
        if let Ok(Some(_)) = node::setting("flood") {
            flood();
        }
        let Ok(Some(announcement)) = node::setting("announce") else {
            return;
        };
        let written = notes()
            .items()
            .map_or(true, |all| all.iter().any(|note| note == announcement.as_bytes()));
        if !written {
            // A broadcast this node cannot make changes nothing.
            let _ = node::broadcast(0, announcement.into_bytes());
        }
    }

    /// What a query sees of the node's settings: nothing (the read fails).
    #[query(name = "announcement")]
    fn announcement() -> Result<String, QueryError> {
        node::setting("announce")
            .map_err(QueryError::BadRequest)?
            .ok_or_else(|| QueryError::NotFound("no announcement".into()))
    }

    #[query]
    fn count() -> Result<u64, QueryError> {
        Ok(notes().len()?)
    }

    #[query(name = "title")]
    fn stored_title() -> Result<String, QueryError> {
        title().get()?.ok_or_else(|| QueryError::NotFound("no title".into()))
    }

    #[query(name = "note-count")]
    fn stored_note_count() -> Result<u64, QueryError> {
        note_count()
            .get()?
            .ok_or_else(|| QueryError::NotFound("layout 1 keeps no note count".into()))
    }
}
