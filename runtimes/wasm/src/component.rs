//! Validating and compiling service components, and calling them.

use wasmtime::component::{Component, HasSelf, Linker, types::ComponentItem};
use wasmtime::{CallHook, Engine, Store, StoreContextMut};

use crate::bindings::service_world::{Service, ServicePre};
use crate::bindings::supervisor_world::{Supervisor, SupervisorPre};
use crate::bindings::{ExecutionError, MigrationPlan, QueryError};
use crate::errors::{RuntimeErrorCode, WasmError, error_from_trap};
use crate::limits::{CORE_INSTANCES_PER_CALL_ITEMS_MAX, GUEST_MEMORY_BYTES_MAX, GUEST_TABLE_ITEMS_MAX};
use crate::state::{CallEnv, CallLimiter, HostFuel, HostState};

/// The interface every service must export.
pub const GUEST_EXPORT: &str = "wasmvisor:service/guest@0.1.0";
/// The privileged interface only the supervisor may import.
pub const DISPATCHER_IMPORT: &str = "wasmvisor:service/dispatcher@0.1.0";
/// Interfaces every service may import.
pub const SERVICE_IMPORTS: &[&str] = &[
    "wasmvisor:service/types@0.1.0",
    "wasmvisor:service/storage@0.1.0",
    "wasmvisor:service/context@0.1.0",
    "wasmvisor:service/calls@0.1.0",
    "wasmvisor:service/node@0.1.0",
];

/// Which world a component is checked against and linked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// An ordinary service: `service` world only.
    Service,
    /// The supervisor: `service` plus the `dispatcher` import.
    Supervisor,
}

impl Privilege {
    fn name(self) -> &'static str {
        match self {
            Privilege::Service => "service",
            Privilege::Supervisor => "supervisor",
        }
    }

    fn allows(self, import: &str) -> bool {
        SERVICE_IMPORTS.contains(&import) || (self == Privilege::Supervisor && import == DISPATCHER_IMPORT)
    }
}

/// A compiled component that passed validation for its privilege class.
#[derive(Clone)]
pub struct ServiceComponent {
    component: Component,
    privilege: Privilege,
    imports: Vec<String>,
}

impl std::fmt::Debug for ServiceComponent {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceComponent")
            .field("privilege", &self.privilege)
            .field("imports", &self.imports)
            .finish_non_exhaustive()
    }
}

impl ServiceComponent {
    /// Compiles `bytes` and checks that they form a component that exports
    /// the `guest` interface and imports nothing beyond what `privilege`
    /// allows.
    pub fn compile(engine: &Engine, bytes: &[u8], privilege: Privilege) -> Result<Self, WasmError> {
        let component =
            Component::new(engine, bytes).map_err(|error| WasmError::InvalidComponent(format!("{error:#}")))?;
        Self::validate(engine, component, privilege)
    }

    /// Checks an already compiled component (e.g. loaded from the cache)
    /// against `privilege`.
    pub fn validate(engine: &Engine, component: Component, privilege: Privilege) -> Result<Self, WasmError> {
        let component_type = component.component_type();
        let imports: Vec<String> = component_type
            .imports(engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        if let Some(import) = imports.iter().find(|import| !privilege.allows(import)) {
            return Err(WasmError::ForbiddenImport {
                import: import.clone(),
                privilege: privilege.name(),
            });
        }
        let exports_guest = component_type
            .exports(engine)
            .any(|(name, item)| name == GUEST_EXPORT && matches!(item.ty, ComponentItem::ComponentInstance(_)));
        if !exports_guest {
            return Err(WasmError::MissingExport { expected: GUEST_EXPORT });
        }
        Ok(Self {
            component,
            privilege,
            imports,
        })
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The privilege class the component was validated for.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }
}

/// The result of one call to a guest.
pub struct CallOutcome<T> {
    /// What the call returned, or the execution error it ended with.
    pub result: Result<T, ExecutionError>,
    /// The call's environment, handed back (with its storage).
    pub env: CallEnv,
    /// Fuel the call burned itself: its instructions and host calls (the
    /// services it called count theirs).
    pub fuel_consumed: u64,
}

/// The guest exports, whichever world the component was linked as (the
/// two worlds' bindings generate distinct types for the same interface).
trait GuestCalls {
    fn initialize(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>>;
    fn resume(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>>;
    fn execute(
        &self,
        store: &mut Store<HostState>,
        interface: &str,
        method_id: u32,
        arguments: &[u8],
    ) -> wasmtime::Result<GuestResult<()>>;
    fn before_transactions(&self, store: &mut Store<HostState>) -> wasmtime::Result<GuestResult<()>>;
    fn after_transactions(&self, store: &mut Store<HostState>) -> wasmtime::Result<GuestResult<()>>;
    fn query(
        &self,
        store: &mut Store<HostState>,
        method: &str,
        arguments: &[u8],
    ) -> wasmtime::Result<Result<Vec<u8>, QueryError>>;
    fn after_commit(&self, store: &mut Store<HostState>) -> wasmtime::Result<()>;
    fn verify_config(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>>;
    fn apply_config(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>>;
    fn plan_migration(&self, store: &mut Store<HostState>, from_version: &str) -> wasmtime::Result<MigrationPlan>;
    fn migrate_data(&self, store: &mut Store<HostState>, from_version: &str) -> wasmtime::Result<GuestResult<()>>;
}

type GuestResult<T> = Result<T, ExecutionError>;

/// Implements [`GuestCalls`] for one world's generated export type.
macro_rules! guest_calls {
    ($guest:ty, $query_error:path, $plan:path) => {
        impl GuestCalls for $guest {
            fn verify_config(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>> {
                self.call_verify_config(store, params)
            }
            fn apply_config(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>> {
                self.call_apply_config(store, params)
            }
            fn plan_migration(
                &self,
                store: &mut Store<HostState>,
                from_version: &str,
            ) -> wasmtime::Result<MigrationPlan> {
                use $plan as Plan;
                Ok(match self.call_plan_migration(store, from_version)? {
                    Plan::FastForward => MigrationPlan::FastForward,
                    Plan::Data => MigrationPlan::Data,
                    Plan::Unsupported => MigrationPlan::Unsupported,
                })
            }
            fn migrate_data(
                &self,
                store: &mut Store<HostState>,
                from_version: &str,
            ) -> wasmtime::Result<GuestResult<()>> {
                self.call_migrate_data(store, from_version)
            }
            fn initialize(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>> {
                self.call_initialize(store, params)
            }
            fn resume(&self, store: &mut Store<HostState>, params: &[u8]) -> wasmtime::Result<GuestResult<()>> {
                self.call_resume(store, params)
            }
            fn execute(
                &self,
                store: &mut Store<HostState>,
                interface: &str,
                method_id: u32,
                arguments: &[u8],
            ) -> wasmtime::Result<GuestResult<()>> {
                self.call_execute(store, interface, method_id, arguments)
            }
            fn before_transactions(&self, store: &mut Store<HostState>) -> wasmtime::Result<GuestResult<()>> {
                self.call_before_transactions(store)
            }
            fn after_transactions(&self, store: &mut Store<HostState>) -> wasmtime::Result<GuestResult<()>> {
                self.call_after_transactions(store)
            }
            fn after_commit(&self, store: &mut Store<HostState>) -> wasmtime::Result<()> {
                self.call_after_commit(store)
            }
            fn query(
                &self,
                store: &mut Store<HostState>,
                method: &str,
                arguments: &[u8],
            ) -> wasmtime::Result<Result<Vec<u8>, QueryError>> {
                use $query_error as Supervisor;
                Ok(self
                    .call_query(store, method, arguments)?
                    .map_err(|error| match error {
                        Supervisor::NotFound(message) => QueryError::NotFound(message),
                        Supervisor::BadRequest(message) => QueryError::BadRequest(message),
                        Supervisor::Internal(message) => QueryError::Internal(message),
                    }))
            }
        }
    };
}

guest_calls!(
    crate::bindings::service_world::exports::wasmvisor::service::guest::Guest,
    crate::bindings::service_world::exports::wasmvisor::service::guest::QueryError,
    crate::bindings::service_world::exports::wasmvisor::service::guest::MigrationPlan
);
guest_calls!(
    crate::bindings::supervisor_world::exports::wasmvisor::service::guest::Guest,
    crate::bindings::supervisor_world::exports::wasmvisor::service::guest::QueryError,
    crate::bindings::supervisor_world::exports::wasmvisor::service::guest::MigrationPlan
);

/// A component pre-linked with its world's linker.
enum Pre {
    /// An ordinary service: the linker has no `dispatcher` interface at all.
    Service(ServicePre<HostState>),
    /// The supervisor: the linker adds the `dispatcher` interface.
    Supervisor(SupervisorPre<HostState>),
}

/// A linked service component: every call gets a fresh instance, so no
/// guest memory survives between calls.
pub struct WasmService {
    engine: Engine,
    pre: Pre,
}

fn link_error(error: wasmtime::Error) -> WasmError {
    WasmError::Link(format!("{error:#}"))
}

/// Links `component` with the `service` world's linker, which has no
/// `dispatcher` interface: a component importing it cannot link here.
fn service_pre(engine: &Engine, component: &Component) -> Result<ServicePre<HostState>, WasmError> {
    let mut linker = Linker::<HostState>::new(engine);
    Service::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state).map_err(link_error)?;
    let instance_pre = linker.instantiate_pre(component).map_err(link_error)?;
    ServicePre::new(instance_pre).map_err(link_error)
}

/// Tries to link `component` as an ordinary service, whatever its
/// privilege class: shows that the ordinary services' linker does not
/// contain the `dispatcher` interface.
pub fn link_as_ordinary_service(engine: &Engine, component: &ServiceComponent) -> Result<(), WasmError> {
    service_pre(engine, &component.component).map(drop)
}

impl WasmService {
    /// Links a validated component with the linker of its privilege class:
    /// the `service` world for ordinary services (no `dispatcher` in it), the
    /// `supervisor` world for the supervisor.
    pub fn new(engine: &Engine, component: &ServiceComponent) -> Result<Self, WasmError> {
        let mut linker = Linker::<HostState>::new(engine);
        let pre = match component.privilege {
            Privilege::Service => Pre::Service(service_pre(engine, &component.component)?),
            Privilege::Supervisor => {
                Supervisor::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
                    .map_err(link_error)?;
                let instance_pre = linker.instantiate_pre(&component.component).map_err(link_error)?;
                Pre::Supervisor(SupervisorPre::new(instance_pre).map_err(link_error)?)
            }
        };
        Ok(Self {
            engine: engine.clone(),
            pre,
        })
    }

    /// Runs the constructor.
    pub fn initialize(&self, env: CallEnv, params: &[u8]) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.initialize(store, params))
    }

    /// Runs the resume of a Stopped or Frozen instance.
    pub fn resume(&self, env: CallEnv, params: &[u8]) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.resume(store, params))
    }

    /// Runs the hook before the block's transactions.
    pub fn before_transactions(&self, env: CallEnv) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.before_transactions(store))
    }

    /// Runs the hook after the block's transactions.
    pub fn after_transactions(&self, env: CallEnv) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.after_transactions(store))
    }

    /// Executes a transaction or service call.
    pub fn execute(&self, env: CallEnv, interface_name: &str, method_id: u32, arguments: &[u8]) -> CallOutcome<()> {
        self.call(env, |store, guest| {
            guest.execute(store, interface_name, method_id, arguments)
        })
    }

    /// Runs the node-local `after-commit` notification.
    pub fn after_commit(&self, env: CallEnv) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.after_commit(store).map(Ok))
    }

    /// Checks a proposed configuration (`verify-config`).
    pub fn verify_config(&self, env: CallEnv, params: &[u8]) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.verify_config(store, params))
    }

    /// Applies an approved configuration (`apply-config`).
    pub fn apply_config(&self, env: CallEnv, params: &[u8]) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.apply_config(store, params))
    }

    /// Asks how data of `from_version` becomes data of this artifact.
    pub fn plan_migration(&self, env: CallEnv, from_version: &str) -> CallOutcome<MigrationPlan> {
        self.call(env, |store, guest| guest.plan_migration(store, from_version).map(Ok))
    }

    /// Runs the data migration script (`migrate-data`).
    pub fn migrate_data(&self, env: CallEnv, from_version: &str) -> CallOutcome<()> {
        self.call(env, |store, guest| guest.migrate_data(store, from_version))
    }

    /// Runs a read query.
    pub fn query(&self, env: CallEnv, method: &str, arguments: &[u8]) -> CallOutcome<Result<Vec<u8>, QueryError>> {
        self.call(env, |store, guest| guest.query(store, method, arguments).map(Ok))
    }

    /// Instantiates the component in a fresh store with the fuel left on
    /// the call's meter, runs `call`, converts traps into execution errors
    /// and leaves on the meter what the call did not burn.
    fn call<T>(
        &self,
        env: CallEnv,
        call: impl FnOnce(&mut Store<HostState>, &dyn GuestCalls) -> wasmtime::Result<Result<T, ExecutionError>>,
    ) -> CallOutcome<T> {
        let meter = env.meter.clone();
        let fuel = meter.fuel_remaining();
        let limiter = CallLimiter {
            memory_bytes_max: GUEST_MEMORY_BYTES_MAX,
            table_elements_max: GUEST_TABLE_ITEMS_MAX,
            instances_max: CORE_INSTANCES_PER_CALL_ITEMS_MAX,
            refused: false,
            meter: meter.clone(),
            memory_reserved: 0,
        };
        let state = HostState {
            env,
            limiter,
            fuel: HostFuel::default(),
            nested_fuel: 0,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.call_hook(account_host_fuel);
        let result = match store.set_fuel(fuel) {
            Err(error) => Err(node_failed(&store, format!("cannot set fuel: {error}"))),
            Ok(()) => {
                // Instantiating fails the same way on every node (a trap in
                // the component's start, memory or instances the limits
                // refuse) unless this node ran out of what it must have: a
                // pool slot (the pool is sized so that it cannot) or memory
                // the system would not map.
                let instance = match &self.pre {
                    Pre::Service(pre) => pre.instantiate(&mut store).map(Guest::Service),
                    Pre::Supervisor(pre) => pre.instantiate(&mut store).map(Guest::Supervisor),
                };
                match instance {
                    Err(error) if node_local(&error) => {
                        Err(node_failed(&store, format!("cannot instantiate: {error:#}")))
                    }
                    Err(error) => Err(error_from_trap(&error, store.data().limiter.refused)),
                    Ok(instance) => {
                        let outcome = match &instance {
                            Guest::Service(service) => call(&mut store, service.wasmvisor_service_guest()),
                            Guest::Supervisor(supervisor) => call(&mut store, supervisor.wasmvisor_service_guest()),
                        };
                        match outcome {
                            Ok(result) => result,
                            Err(error) => Err(error_from_trap(&error, store.data().limiter.refused)),
                        }
                    }
                }
            }
        };
        let left = store.get_fuel().unwrap_or(0);
        meter.set_fuel_remaining(left);
        let mut state = store.into_data();
        state.limiter.release();
        CallOutcome {
            result,
            env: state.env,
            fuel_consumed: fuel.saturating_sub(left).saturating_sub(state.nested_fuel),
        }
    }
}

/// An instantiated component, of either world.
enum Guest {
    Service(Service),
    Supervisor(Supervisor),
}

/// Whether an instantiation failed for want of this node's own resources
/// (an exhausted pool, a mapping the system refused) rather than for
/// anything in the component, which every node meets alike.
fn node_local(error: &wasmtime::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some()
            || cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// Records a failure of this node under the call in the call's slot (the
/// runtime answers it as a node error) and answers what ends the call.
fn node_failed(store: &Store<HostState>, description: String) -> ExecutionError {
    let failure = wasmvisor_runtime::NodeError::Runtime {
        runtime_id: wasmvisor_runtime::runtime_id::WASM,
        description: description.clone(),
    };
    crate::fork_storage::record_node_failure(&store.data().env.node_failure, failure);
    RuntimeErrorCode::InstantiationFailed.error(description)
}

/// The store's call hook: host calls pay for their work in the guest's
/// fuel. On the way into the host (the outermost transition: a host call
/// may itself call into the guest, e.g. to allocate its answer, which may
/// grow memory through the host again), it notes the fuel the guest has;
/// on the way out it takes off what the host charged.
fn account_host_fuel(mut store: StoreContextMut<'_, HostState>, hook: CallHook) -> wasmtime::Result<()> {
    match hook {
        CallHook::CallingHost => {
            let fuel = store.data().fuel;
            if fuel.depth == 0 {
                let available = store.get_fuel()?;
                store.data_mut().fuel = HostFuel {
                    depth: 1,
                    available,
                    charged: 0,
                };
            } else {
                store.data_mut().fuel.depth += 1;
            }
        }
        CallHook::ReturningFromHost => {
            let fuel = &mut store.data_mut().fuel;
            fuel.depth = fuel.depth.saturating_sub(1);
            if fuel.depth == 0 {
                let charged = std::mem::take(fuel).charged;
                if charged > 0 {
                    let left = store.get_fuel()?.saturating_sub(charged);
                    store.set_fuel(left)?;
                }
            }
        }
        CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
    }
    Ok(())
}
