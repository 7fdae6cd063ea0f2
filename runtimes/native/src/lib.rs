//! The native Rust runtime (runtime id 0).
//!
//! Native services are Rust types compiled into the node and registered as
//! artifacts ([`NativeArtifact`]); they follow the same lifecycle contract
//! as wasm services. They are trusted code: unlike wasm guests they are
//! not sandboxed, so only artifacts built into the node can be native.

mod token;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use wasmvisor_runtime::{
    ArtifactId, CallError, CommonError, DeployTask, ExecutionContext, InstanceId, InstanceSpec, InstanceStatus,
    NodeError, QueryContext, QueryError, Runtime, catching_panics, runtime_id,
};
use wasmvisor_storage::Snapshot;

pub use token::{TOKEN_ARTIFACT_NAME, TokenError, TokenService};

/// A native service. Every method but `execute` has a default.
pub trait NativeService: Send + Sync {
    /// Constructor.
    fn initialize(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        let _ = (context, params);
        Ok(())
    }

    /// Resume of a Stopped or Frozen instance.
    fn resume(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        let _ = (context, params);
        Ok(())
    }

    /// A transaction or service call.
    fn execute(&self, context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError>;

    /// Hook before the block's transactions.
    fn before_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        let _ = context;
        Ok(())
    }

    /// Hook after the block's transactions.
    fn after_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        let _ = context;
        Ok(())
    }

    /// A read query on committed state.
    fn query(&self, context: QueryContext<'_>, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        let _ = (context, arguments);
        Err(QueryError::NotFound(format!("no query named {method:?}")))
    }
}

/// A native artifact: its id and how to make its service.
pub trait NativeArtifact: Send + Sync {
    /// The artifact id (runtime id 0).
    fn artifact_id(&self) -> ArtifactId;
    /// A service object for an instance of this artifact.
    fn create(&self) -> Arc<dyn NativeService>;
}

#[derive(Default)]
struct State {
    deployed: BTreeSet<ArtifactId>,
    /// Committed instances with their status.
    instances: BTreeMap<InstanceId, (Arc<dyn NativeService>, InstanceStatus)>,
}

/// The native runtime: the artifacts compiled into this node.
pub struct NativeRuntime {
    available: BTreeMap<ArtifactId, Arc<dyn NativeArtifact>>,
    state: Arc<Mutex<State>>,
    calls: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for NativeRuntime {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("NativeRuntime")
            .field("available", &self.available.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl NativeRuntime {
    /// A runtime offering `artifacts`.
    pub fn new(artifacts: Vec<Arc<dyn NativeArtifact>>) -> Self {
        let available = artifacts
            .into_iter()
            .map(|artifact| (artifact.artifact_id(), artifact))
            .collect();
        Self {
            available,
            state: Arc::default(),
            calls: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
    }

    /// A fresh service object for a new instance (not yet committed). The
    /// dispatcher deploys an artifact before it adds an instance of it, so
    /// a missing one is this node's failure.
    fn new_service(&self, spec: &InstanceSpec) -> Result<Arc<dyn NativeService>, NodeError> {
        let not_here = |what: &str| NodeError::Runtime {
            runtime_id: runtime_id::NATIVE,
            description: format!("native artifact {} is {what} on this node", spec.artifact),
        };
        if !self.state().deployed.contains(&spec.artifact) {
            return Err(not_here("not deployed"));
        }
        self.available
            .get(&spec.artifact)
            .map(|artifact| artifact.create())
            .ok_or_else(|| not_here("not built in"))
    }

    /// The committed service object of an instance, for a call into it
    /// (counted in the metrics). The dispatcher calls only instances it
    /// committed, so a missing one is this node's failure.
    fn service(&self, spec: &InstanceSpec) -> Result<Arc<dyn NativeService>, NodeError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.state()
            .instances
            .get(&spec.id)
            .map(|(service, _)| Arc::clone(service))
            .ok_or_else(|| NodeError::Runtime {
                runtime_id: runtime_id::NATIVE,
                description: format!("instance {} is not committed in the native runtime", spec.id),
            })
    }
}

impl Runtime for NativeRuntime {
    fn id(&self) -> u32 {
        runtime_id::NATIVE
    }

    fn deploy_artifact(&self, artifact: ArtifactId, _spec: Vec<u8>) -> DeployTask {
        let known = self.available.contains_key(&artifact);
        let state = Arc::clone(&self.state);
        Box::new(move || {
            if !known {
                return Err(CommonError::FeatureNotSupported
                    .with_description(format!("{artifact} is not compiled into this node")));
            }
            state
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node")
                .deployed
                .insert(artifact);
            Ok(())
        })
    }

    fn is_artifact_deployed(&self, artifact: &ArtifactId) -> bool {
        self.state().deployed.contains(artifact)
    }

    /// A Frozen instance answers queries (both runtimes serve them from
    /// committed state) and gets no calls.
    fn supports_freezing(&self) -> bool {
        true
    }

    fn start_adding_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let service = self.new_service(context.instance)?;
        catching_panics(|| service.initialize(context, params))
    }

    fn start_resuming_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        let service = self.service(context.instance)?;
        catching_panics(|| service.resume(context, params))
    }

    fn commit_service(
        &self,
        _snapshot: &dyn Snapshot,
        spec: &InstanceSpec,
        status: &InstanceStatus,
    ) -> Result<(), NodeError> {
        let existing = self
            .state()
            .instances
            .get(&spec.id)
            .map(|(service, _)| Arc::clone(service));
        let service = match existing {
            Some(service) => service,
            None => self.new_service(spec)?,
        };
        self.state().instances.insert(spec.id, (service, status.clone()));
        Ok(())
    }

    fn unload_artifact(&self, artifact: &ArtifactId) {
        self.state().deployed.remove(artifact);
    }

    fn execute(&self, context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError> {
        let service = self.service(context.instance)?;
        catching_panics(|| service.execute(context, method_id, arguments))
    }

    fn before_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        let service = self.service(context.instance)?;
        catching_panics(|| service.before_transactions(context))
    }

    fn after_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError> {
        let service = self.service(context.instance)?;
        catching_panics(|| service.after_transactions(context))
    }

    fn query(&self, context: QueryContext<'_>, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        let service = self
            .service(context.instance)
            .map_err(|error| QueryError::NotFound(error.to_string()))?;
        match catching_panics(|| Ok(service.query(context, method, arguments))) {
            Ok(answer) => answer,
            Err(error) => Err(QueryError::Internal(error.to_string())),
        }
    }

    fn after_commit(&self, _context: wasmvisor_runtime::AfterCommitContext<'_>) -> Result<(), NodeError> {
        Ok(())
    }

    fn metrics(&self) -> wasmvisor_runtime::RuntimeMetrics {
        wasmvisor_runtime::RuntimeMetrics {
            calls: self.calls.load(std::sync::atomic::Ordering::Relaxed),
            ..Default::default()
        }
    }
}
