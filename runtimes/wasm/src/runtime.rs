//! The wasm runtime behind the `Runtime` contract (runtime id 1).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::WasmDeploySpec;
use wasmvisor_runtime::interface::ServiceInterface;
use wasmvisor_runtime::{
    AfterCommitContext, ArtifactId, CallError, Caller, ConfigStage, CoreError, DeployTask, ErrorKind as CoreKind,
    ExecutionContext, ExecutionError, InstanceId, InstanceSpec, InstanceStatus, Meter, MigrationKind, NodeError,
    QueryContext, QueryError, Runtime, runtime_id,
};
use wasmvisor_storage::{Entries, Fork, Namespace, Snapshot, StorageError};

use crate::bindings;
use crate::cache::{CacheLookup, CacheStats, CompiledCache};
use crate::component::{CallOutcome, Privilege, ServiceComponent, WasmService};
use crate::errors::{RuntimeErrorCode, WasmError};
use crate::fork_storage::{ForkStorage, NodeFailure};
use crate::interface::embedded_interface;
use crate::limits::{COMPONENT_BYTES_MAX, DEPLOY_SPEC_BYTES_MAX, FUEL_PER_TRANSACTION_DEFAULT, MIGRATION_FUEL};
use crate::state::{CallEnv, StorageAccess};

/// Settings of the wasm runtime. (The fuel of consensus calls is not
/// here: it comes with each call, from the consensus configuration.)
#[derive(Debug, Clone)]
pub struct WasmRuntimeConfig {
    /// Name of the supervisor's artifact: the only one validated with the
    /// supervisor's privilege (the `dispatcher` import).
    pub supervisor_artifact_name: String,
    /// Directory of the compiled-artifact cache (`None`: always compile).
    pub compiled_cache_dir: Option<std::path::PathBuf>,
    /// Native stack for guest code, in bytes (default
    /// [`crate::limits::GUEST_STACK_BYTES_MAX`]; see
    /// [`crate::deterministic_engine_with_stack`]).
    pub guest_stack_bytes: usize,
}

impl Default for WasmRuntimeConfig {
    fn default() -> Self {
        Self {
            supervisor_artifact_name: "wasmvisor.supervisor".into(),
            compiled_cache_dir: None,
            guest_stack_bytes: crate::limits::GUEST_STACK_BYTES_MAX,
        }
    }
}

#[derive(Default)]
struct State {
    services: BTreeMap<ArtifactId, Arc<WasmService>>,
    /// The interfaces deployed components embed.
    interfaces: BTreeMap<ArtifactId, Arc<ServiceInterface>>,
    instances: BTreeMap<InstanceId, (InstanceSpec, InstanceStatus)>,
}

/// The wasm runtime.
pub struct WasmRuntime {
    engine: Engine,
    config: WasmRuntimeConfig,
    state: Arc<Mutex<State>>,
    cache: Option<Arc<CompiledCache>>,
    stats: Arc<CacheStats>,
    calls: AtomicU64,
    fuel_consumed: AtomicU64,
}

/// What a guest call may reach beyond its own storage.
struct Capabilities {
    /// Calls to other services (consensus calls only).
    calls: Option<wasmvisor_runtime::CallSite>,
    /// The lifecycle mechanism (the supervisor's consensus calls only).
    lifecycle: Option<Arc<dyn wasmvisor_runtime::LifecycleControl>>,
    /// The budget of the top-level call.
    meter: Meter,
    /// Node-local capabilities (after-commit only).
    after_commit: Option<crate::state::AfterCommitState>,
    /// The call is a data migration script: its storage is the instance's
    /// shadow namespace instead of its own.
    migration: bool,
}

impl Capabilities {
    /// Nothing beyond storage, with a budget of `fuel`.
    fn none(fuel: u64) -> Self {
        Self {
            calls: None,
            lifecycle: None,
            meter: Meter::new(fuel),
            after_commit: None,
            migration: false,
        }
    }
}

/// What a deploy task needs, moved onto its thread.
struct Compiler {
    engine: Engine,
    config: WasmRuntimeConfig,
    cache: Option<Arc<CompiledCache>>,
    stats: Arc<CacheStats>,
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WasmRuntime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A snapshot with nothing in it: the placeholder left in a context's fork
/// while the real fork is inside a wasm store.
struct EmptySnapshot;

impl Snapshot for EmptySnapshot {
    fn get(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(None)
    }
    fn range(&self, _from: &[u8], _to: Option<&[u8]>, _items: usize, _bytes: usize) -> Result<Entries, StorageError> {
        Ok(Vec::new())
    }
}

fn refused(error: impl std::fmt::Display) -> ExecutionError {
    ExecutionError::new(
        CoreKind::Runtime(RuntimeErrorCode::ArtifactRefused as u8),
        error.to_string(),
    )
}

/// The deploy spec of a wasm component: the component and its blake3
/// hash, which a deploy checks (`WasmDeploySpec` encoded is what a deploy
/// request or a genesis artifact carries).
pub fn deploy_spec(component: &[u8]) -> WasmDeploySpec {
    WasmDeploySpec {
        component_hash: blake3::hash(component).as_bytes().to_vec(),
        component: component.to_vec(),
    }
}

impl Compiler {
    /// Validates a deploy spec and compiles its component (or loads it from
    /// the cache): the work of a deploy task, off the block path.
    fn compile(
        &self,
        artifact: &ArtifactId,
        spec: &[u8],
    ) -> Result<(WasmService, Option<ServiceInterface>), ExecutionError> {
        if spec.len() > DEPLOY_SPEC_BYTES_MAX {
            return Err(refused(format!(
                "the deploy spec of {} bytes exceeds the maximum of {DEPLOY_SPEC_BYTES_MAX}",
                spec.len()
            )));
        }
        let spec = WasmDeploySpec::decode(spec)
            .map_err(|error| refused(format!("the deploy spec does not decode: {error}")))?;
        if spec.component.len() > COMPONENT_BYTES_MAX {
            return Err(refused(format!(
                "a component of {} bytes exceeds the maximum of {COMPONENT_BYTES_MAX}",
                spec.component.len()
            )));
        }
        let hash = *blake3::hash(&spec.component).as_bytes();
        if hash.as_slice() != spec.component_hash.as_slice() {
            return Err(refused("the component's blake3 hash does not match the declared hash"));
        }
        let privilege = if artifact.name == self.config.supervisor_artifact_name {
            Privilege::Supervisor
        } else {
            Privilege::Service
        };
        let component = self.load_or_compile(&hash, &spec.component)?;
        let component = ServiceComponent::validate(&self.engine, component, privilege).map_err(refused)?;
        let interface = embedded_interface(&spec.component).map_err(refused)?;
        let service = WasmService::new(&self.engine, &component).map_err(refused)?;
        Ok((service, interface))
    }

    fn load_or_compile(&self, hash: &[u8; 32], bytes: &[u8]) -> Result<Component, ExecutionError> {
        if let Some(cache) = &self.cache {
            match cache.load(&self.engine, hash) {
                CacheLookup::Hit(component) => {
                    self.stats.hits.fetch_add(1, Ordering::SeqCst);
                    return Ok(component);
                }
                CacheLookup::Miss => {}
                CacheLookup::Rejected => {
                    self.stats.rejected_entries.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|error| refused(WasmError::InvalidComponent(format!("{error:#}"))))?;
        self.stats.compilations.fetch_add(1, Ordering::SeqCst);
        if let Some(cache) = &self.cache {
            // A cache that cannot be written only costs a later recompile.
            let _ = cache.store(hash, &component);
        }
        Ok(component)
    }
}

fn to_binding_spec(spec: &InstanceSpec) -> bindings::InstanceSpec {
    bindings::InstanceSpec {
        id: spec.id,
        name: spec.name.clone(),
        artifact: bindings::ArtifactId {
            runtime_id: spec.artifact.runtime_id,
            name: spec.artifact.name.clone(),
            version: spec.artifact.version.to_string(),
        },
    }
}

fn to_binding_caller(caller: &Caller) -> bindings::Caller {
    match caller {
        Caller::Transaction { author, hash } => bindings::Caller::Transaction(bindings::TransactionCaller {
            author: author.to_vec(),
            tx_hash: hash.to_vec(),
        }),
        Caller::Service(id) => bindings::Caller::Service(*id),
        Caller::Blockchain => bindings::Caller::Blockchain,
    }
}

/// A guest's error as the host keeps it (its description cut to the
/// limit: a service chooses it, and it is recorded with the block).
fn from_binding_error(error: bindings::ExecutionError) -> ExecutionError {
    let kind = match error.kind {
        bindings::ErrorKind::Unexpected => CoreKind::Unexpected,
        bindings::ErrorKind::Common => CoreKind::Common(error.code),
        bindings::ErrorKind::Core => CoreKind::Core(error.code),
        bindings::ErrorKind::Runtime => CoreKind::Runtime(error.code),
        bindings::ErrorKind::Service => CoreKind::Service(error.code),
    };
    ExecutionError::new(kind, error.description).bounded()
}

impl WasmRuntime {
    /// A runtime on a deterministic engine.
    pub fn new(config: WasmRuntimeConfig) -> Result<Self, WasmError> {
        let engine = crate::engine::deterministic_engine_with_stack(config.guest_stack_bytes)?;
        let cache = match &config.compiled_cache_dir {
            Some(path) => Some(Arc::new(CompiledCache::open(path, &engine)?)),
            None => None,
        };
        Ok(Self {
            engine,
            config,
            state: Arc::default(),
            cache,
            stats: Arc::default(),
            calls: AtomicU64::new(0),
            fuel_consumed: AtomicU64::new(0),
        })
    }

    /// Counters of the compiled-artifact cache: compilations, cache hits,
    /// rejected entries.
    pub fn cache_stats(&self) -> (u64, u64, u64) {
        self.stats.snapshot()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
    }

    /// The compiled artifact. The dispatcher calls only artifacts it had
    /// this runtime deploy, so a missing one is this node's failure.
    fn service(&self, artifact: &ArtifactId) -> Result<Arc<WasmService>, NodeError> {
        self.state()
            .services
            .get(artifact)
            .cloned()
            .ok_or_else(|| NodeError::Runtime {
                runtime_id: runtime_id::WASM,
                description: format!("{artifact} is not deployed on this node"),
            })
    }

    /// Runs one guest call with the block's fork moved into the store and
    /// back. A node-local failure under the call (its storage's, a nested
    /// call's, a transition's) is the call's [`NodeError`], whatever the
    /// guest did after the trap: it is never a block outcome.
    #[allow(clippy::too_many_arguments)]
    fn run<T>(
        &self,
        fork: &mut Fork,
        instance: &InstanceSpec,
        caller: &Caller,
        height: u64,
        access: StorageAccess,
        capabilities: Capabilities,
        call: impl FnOnce(&WasmService, CallEnv) -> CallOutcome<T>,
    ) -> Result<T, CallError> {
        let service = self.service(&instance.artifact)?;
        let node_failure = NodeFailure::default();
        let owned = std::mem::replace(fork, Fork::new(Arc::new(EmptySnapshot)));
        let env = CallEnv {
            instance: to_binding_spec(instance),
            caller: to_binding_caller(caller),
            height,
            access,
            storage: Box::new(ForkStorage::new(
                owned,
                if capabilities.migration {
                    Namespace::Migration(instance.id)
                } else {
                    Namespace::Service(instance.id)
                },
                Arc::clone(&node_failure),
            )),
            node_failure: Arc::clone(&node_failure),
            calls: capabilities.calls,
            lifecycle: capabilities.lifecycle,
            after_commit: capabilities.after_commit,
            meter: capabilities.meter,
        };
        let outcome = call(&service, env);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.fuel_consumed.fetch_add(outcome.fuel_consumed, Ordering::Relaxed);
        *fork = outcome
            .env
            .storage
            .into_fork_storage()
            .expect("the runtime hands back the fork storage it was given")
            .into_fork();
        if let Some(failure) = node_failure
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .take()
        {
            return Err(CallError::Node(failure));
        }
        outcome
            .result
            .map_err(|error| CallError::Execution(from_binding_error(error)))
    }

    fn consensus_call<T>(
        &self,
        context: ExecutionContext<'_>,
        call: impl FnOnce(&WasmService, CallEnv) -> CallOutcome<T>,
    ) -> Result<T, CallError> {
        let capabilities = Capabilities {
            calls: Some(context.call_site()),
            lifecycle: context.lifecycle_handle(),
            meter: context.meter.clone(),
            after_commit: None,
            migration: false,
        };
        let ExecutionContext {
            fork,
            instance,
            caller,
            height,
            ..
        } = context;
        self.run(
            fork,
            instance,
            &caller,
            height,
            StorageAccess::ReadWrite,
            capabilities,
            call,
        )
    }
}

impl Runtime for WasmRuntime {
    fn id(&self) -> u32 {
        runtime_id::WASM
    }

    fn deploy_artifact(&self, artifact: ArtifactId, spec: Vec<u8>) -> DeployTask {
        let compiler = Compiler {
            engine: self.engine.clone(),
            config: self.config.clone(),
            cache: self.cache.clone(),
            stats: Arc::clone(&self.stats),
        };
        let state = Arc::clone(&self.state);
        Box::new(move || {
            let (service, interface) = compiler.compile(&artifact, &spec)?;
            let mut state = state
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node");
            match interface {
                Some(interface) => state.interfaces.insert(artifact.clone(), Arc::new(interface)),
                None => state.interfaces.remove(&artifact),
            };
            state.services.insert(artifact, Arc::new(service));
            Ok(())
        })
    }

    fn is_artifact_deployed(&self, artifact: &ArtifactId) -> bool {
        self.state().services.contains_key(artifact)
    }

    /// A Frozen instance answers queries (both runtimes serve them from
    /// committed state) and gets no calls.
    fn supports_freezing(&self) -> bool {
        true
    }

    fn start_adding_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        self.consensus_call(context, |service, env| service.initialize(env, params))
    }

    fn start_resuming_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        self.consensus_call(context, |service, env| service.resume(env, params))
    }

    fn configure(&self, context: ExecutionContext<'_>, params: &[u8], stage: ConfigStage) -> Result<(), CallError> {
        self.consensus_call(context, |service, env| match stage {
            ConfigStage::Verify => service.verify_config(env, params),
            ConfigStage::Apply => service.apply_config(env, params),
        })
    }

    /// Asks the new artifact's `plan-migration` (a call with no storage).
    fn migrate(
        &self,
        new_artifact: &ArtifactId,
        data_version: &semver::Version,
        meter: &Meter,
    ) -> Result<MigrationKind, CallError> {
        let instance = InstanceSpec {
            id: u32::MAX,
            name: "migration-plan".into(),
            artifact: new_artifact.clone(),
        };
        let mut fork = Fork::new(Arc::new(EmptySnapshot));
        let plan = self.run(
            &mut fork,
            &instance,
            &Caller::Blockchain,
            0,
            StorageAccess::ReadOnly,
            Capabilities {
                meter: meter.clone(),
                ..Capabilities::none(0)
            },
            |service, env| service.plan_migration(env, &data_version.to_string()),
        )?;
        match plan {
            bindings::MigrationPlan::FastForward => Ok(MigrationKind::FastForward),
            bindings::MigrationPlan::Data => Ok(MigrationKind::Data),
            bindings::MigrationPlan::Unsupported => Err(CoreError::NoMigration
                .with_description(format!(
                    "{new_artifact} cannot take over data of version {data_version}"
                ))
                .into()),
        }
    }

    /// Runs `migrate-data` with the instance's shadow namespace as its
    /// storage, with [`MIGRATION_FUEL`] fuel.
    fn migrate_data(
        &self,
        fork: &mut Fork,
        instance: &InstanceSpec,
        data_version: &semver::Version,
    ) -> Result<(), CallError> {
        let capabilities = Capabilities {
            migration: true,
            ..Capabilities::none(MIGRATION_FUEL)
        };
        self.run(
            fork,
            instance,
            &Caller::Blockchain,
            0,
            StorageAccess::ReadWrite,
            capabilities,
            |service, env| service.migrate_data(env, &data_version.to_string()),
        )
    }

    fn commit_service(
        &self,
        _snapshot: &dyn Snapshot,
        spec: &InstanceSpec,
        status: &InstanceStatus,
    ) -> Result<(), NodeError> {
        if !self.is_artifact_deployed(&spec.artifact) {
            return Err(NodeError::Runtime {
                runtime_id: runtime_id::WASM,
                description: format!("{} is committed but not deployed on this node", spec.artifact),
            });
        }
        self.state().instances.insert(spec.id, (spec.clone(), status.clone()));
        Ok(())
    }

    fn unload_artifact(&self, artifact: &ArtifactId) {
        let mut state = self.state();
        state.services.remove(artifact);
        state.interfaces.remove(artifact);
    }

    fn interface(&self, artifact: &ArtifactId) -> Option<Arc<ServiceInterface>> {
        self.state().interfaces.get(artifact).cloned()
    }

    fn execute(&self, context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError> {
        let interface = context.interface;
        self.consensus_call(context, |service, env| {
            service.execute(env, interface, method_id, arguments)
        })
    }

    fn before_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        self.consensus_call(context, |service, env| service.before_transactions(env))
    }

    fn after_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        self.consensus_call(context, |service, env| service.after_transactions(env))
    }

    fn query(&self, context: QueryContext<'_>, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        let QueryContext {
            fork,
            instance,
            height,
            lifecycle,
            meter,
        } = context;
        // Queries get no calls; the supervisor keeps its registry reads
        // (its transitions are refused on read-only storage).
        let capabilities = Capabilities {
            calls: None,
            lifecycle,
            meter,
            after_commit: None,
            migration: false,
        };
        let answer = self.run(
            fork,
            instance,
            &Caller::Blockchain,
            height,
            StorageAccess::ReadOnly,
            capabilities,
            |service, env| service.query(env, method, arguments),
        );
        // A guest's messages are cut like error descriptions.
        let cut = |message: String| ExecutionError::new(CoreKind::Unexpected, message).bounded().description;
        match answer {
            Err(error) => Err(QueryError::Internal(error.to_string())),
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(bindings::QueryError::NotFound(message))) => Err(QueryError::NotFound(cut(message))),
            Ok(Err(bindings::QueryError::BadRequest(message))) => Err(QueryError::BadRequest(cut(message))),
            Ok(Err(bindings::QueryError::Internal(message))) => Err(QueryError::Internal(cut(message))),
        }
    }

    /// Notifies every Active instance (`after-commit`, read-only, on the
    /// committed state) and queues what the supervisor asks to broadcast.
    /// Failures here are node-local and do not affect consensus.
    fn metrics(&self) -> wasmvisor_runtime::RuntimeMetrics {
        let (compilations, cache_hits, _) = self.stats.snapshot();
        wasmvisor_runtime::RuntimeMetrics {
            calls: self.calls.load(Ordering::Relaxed),
            fuel_consumed: self.fuel_consumed.load(Ordering::Relaxed),
            compilations,
            cache_hits,
        }
    }

    fn after_commit(&self, context: AfterCommitContext<'_>) -> Result<(), NodeError> {
        let active: Vec<InstanceSpec> = self
            .state()
            .instances
            .values()
            .filter(|(_, status)| status.is_active())
            .map(|(spec, _)| spec.clone())
            .collect();
        for spec in active {
            let state = crate::state::AfterCommitState {
                outbox: crate::state::Outbox::default(),
                node_service_key: context.node_service_key,
                settings: Arc::new(context.service_settings.get(&spec.name).cloned().unwrap_or_default()),
            };
            let outbox = Arc::clone(&state.outbox);
            let capabilities = Capabilities {
                calls: None,
                lifecycle: if spec.id == wasmvisor_runtime::SUPERVISOR_INSTANCE_ID {
                    context.supervisor_lifecycle.clone()
                } else {
                    None
                },
                meter: Meter::new(FUEL_PER_TRANSACTION_DEFAULT),
                after_commit: Some(state),
                migration: false,
            };
            let mut fork = Fork::new(Arc::clone(context.snapshot));
            let result = self.run(
                &mut fork,
                &spec,
                &Caller::Blockchain,
                context.height,
                StorageAccess::ReadOnly,
                capabilities,
                |service, env| service.after_commit(env),
            );
            // A service's own failure here changes nothing (after-commit is
            // outside consensus); a failure of the node stops it.
            if let Err(CallError::Node(error)) = result {
                return Err(error);
            }
            let queued = std::mem::take(
                &mut *outbox
                    .lock()
                    .expect("a lock is poisoned only by a panic, and a panic stops the node"),
            );
            for request in queued {
                context.mailbox.push(request);
            }
        }
        Ok(())
    }
}
