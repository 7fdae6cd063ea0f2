//! The RocksDB backend: the embedded default.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, DB, Direction, IteratorMode, Options, ReadOptions, SnapshotWithThreadMode, WriteBatch,
    WriteOptions,
};

use crate::backend::{Change, Database, Entries, Patch, Snapshot, take_page};
use crate::error::StorageError;

fn backend_error(error: rocksdb::Error) -> StorageError {
    StorageError::Backend(error.into_string())
}

/// Bits per key of the tables' bloom filters (about 1% false positives).
const BLOOM_BITS_PER_KEY: f64 = 10.0;
/// Share of the memtable given to its bloom filter.
const MEMTABLE_BLOOM_RATIO: f64 = 0.1;
/// Size of the cache of uncompressed table blocks.
const BLOCK_CACHE_BYTES: usize = 128 << 20;

/// A RocksDB database in a data directory.
pub struct RocksDatabase {
    db: Arc<DB>,
}

impl std::fmt::Debug for RocksDatabase {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("RocksDatabase")
            .field("path", &self.db.path())
            .finish()
    }
}

impl RocksDatabase {
    /// Opens (creating if needed) the database in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        // Most point reads of a block ask for keys that are absent (is this
        // transaction already committed?) or recently written: whole-key
        // bloom filters let RocksDB answer those without searching the
        // memtable's skip list or reading table blocks.
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        table.set_whole_key_filtering(true);
        table.set_block_cache(&Cache::new_lru_cache(BLOCK_CACHE_BYTES));
        options.set_block_based_table_factory(&table);
        options.set_memtable_whole_key_filtering(true);
        options.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
        let db = DB::open(&options, path).map_err(backend_error)?;
        Ok(Self { db: Arc::new(db) })
    }
}

self_cell::self_cell!(
    /// A RocksDB snapshot kept alive together with its database.
    struct OwnedSnapshot {
        owner: Arc<DB>,
        #[covariant]
        dependent: DbSnapshot,
    }
);

type DbSnapshot<'a> = SnapshotWithThreadMode<'a, DB>;

impl Snapshot for OwnedSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.borrow_dependent().get(key).map_err(backend_error)
    }

    fn range(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
    ) -> Result<Entries, StorageError> {
        let mut read_options = ReadOptions::default();
        if let Some(to) = to {
            read_options.set_iterate_upper_bound(to.to_vec());
        }
        let iterator = self
            .borrow_dependent()
            .iterator_opt(IteratorMode::From(from, Direction::Forward), read_options);
        let entries = iterator.map(|item| {
            item.map(|(key, value)| (key.into_vec(), value.into_vec()))
                .map_err(backend_error)
        });
        take_page(entries, items_max, bytes_max)
    }
}

impl Database for RocksDatabase {
    fn snapshot(&self) -> Arc<dyn Snapshot> {
        Arc::new(OwnedSnapshot::new(Arc::clone(&self.db), |db| db.snapshot()))
    }

    fn merge(&self, patch: Patch) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        for (key, change) in &patch.changes {
            match change {
                Change::Put(value) => batch.put(key, value),
                Change::Delete => batch.delete(key),
            }
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(true);
        self.db.write_opt(batch, &write_options).map_err(backend_error)
    }
}
