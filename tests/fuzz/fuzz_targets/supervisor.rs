//! Supervisor payload decoding: any method and payload an administrator
//! signs ends in a supervisor, common or core error, or succeeds — never a
//! trap, never an exhausted allowance, never an error in a block hook.
//! Every input runs on the same genesis state (the proposal is executed
//! and discarded), so a finding reproduces from its input alone.
#![no_main]

use std::cell::RefCell;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigPropose, ConfigVote, DeployRequest, DeployResult, FreezeService, MigrationRequest,
    ResumeService, ServiceConfig, StartService, StopService, UnloadArtifact, config_change, deploy_result,
};
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind, SUPERVISOR_INSTANCE_ID};
use wasmvisor_testkit::{SupervisorMode, TestKit, TestKitBuilder};
use wasmvisor_wasm::RuntimeErrorCode;

#[derive(Debug, Arbitrary)]
struct Artifact {
    runtime_id: u8,
    name: String,
    version: String,
}

impl Artifact {
    fn proto(self) -> ArtifactId {
        ArtifactId {
            runtime_id: u32::from(self.runtime_id % 3),
            name: self.name,
            version: self.version,
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Change {
    Consensus {
        fuel: u64,
        per_block: u32,
        interval: u64,
        size: u32,
    },
    Service {
        instance_id: u8,
        params: Vec<u8>,
    },
    Start {
        artifact: Artifact,
        name: String,
        config: Vec<u8>,
    },
    Stop(u8),
    Resume {
        instance_id: u8,
        params: Vec<u8>,
    },
    Freeze(u8),
    Unload(Artifact),
}

impl Change {
    fn proto(self) -> ConfigChange {
        use config_change::Kind;
        let kind = match self {
            Change::Consensus {
                fuel,
                per_block,
                interval,
                size,
            } => Kind::Consensus(ConsensusConfig {
                validator_keys: Vec::new(),
                fuel_per_transaction_max: fuel,
                transactions_per_block_max: per_block,
                block_interval_ms: interval,
                transaction_size_max: size,
                fuel_per_query_max: fuel / 4,
            }),
            Change::Service { instance_id, params } => Kind::Service(ServiceConfig {
                instance_id: u32::from(instance_id % 4),
                params,
            }),
            Change::Start { artifact, name, config } => Kind::StartService(StartService {
                artifact: Some(artifact.proto()),
                name,
                config,
            }),
            Change::Stop(id) => Kind::StopService(StopService {
                instance_id: u32::from(id % 4),
            }),
            Change::Resume { instance_id, params } => Kind::ResumeService(ResumeService {
                instance_id: u32::from(instance_id % 4),
                params,
            }),
            Change::Freeze(id) => Kind::FreezeService(FreezeService {
                instance_id: u32::from(id % 4),
            }),
            Change::Unload(artifact) => Kind::UnloadArtifact(UnloadArtifact {
                artifact_id: Some(artifact.proto()),
            }),
        };
        ConfigChange { kind: Some(kind) }
    }
}

#[derive(Debug, Arbitrary)]
enum Payload {
    Raw(Vec<u8>),
    Deploy {
        artifact: Artifact,
        spec: Vec<u8>,
        deadline: u64,
        seed: u64,
    },
    DeployResult {
        artifact: Artifact,
        deadline: u64,
        error: Option<String>,
    },
    Propose {
        actual_from: u64,
        changes: Vec<Change>,
        number: u64,
    },
    Vote(Vec<u8>),
    Migration {
        artifact: Artifact,
        service: String,
        deadline: u64,
        seed: u64,
    },
}

impl Payload {
    /// The method the payload is meant for, and its encoding.
    fn encode(self) -> (u32, Vec<u8>) {
        match self {
            Payload::Raw(bytes) => (0, bytes),
            Payload::Deploy {
                artifact,
                spec,
                deadline,
                seed,
            } => (
                0,
                DeployRequest {
                    artifact: Some(artifact.proto()),
                    spec,
                    deadline_height: deadline,
                    seed,
                }
                .encode_to_vec(),
            ),
            Payload::DeployResult {
                artifact,
                deadline,
                error,
            } => (
                1,
                DeployResult {
                    request: Some(DeployRequest {
                        artifact: Some(artifact.proto()),
                        spec: Vec::new(),
                        deadline_height: deadline,
                        seed: 0,
                    }),
                    result: Some(match error {
                        Some(error) => deploy_result::Result::Error(error),
                        None => deploy_result::Result::Ok(Default::default()),
                    }),
                    request_key: Vec::new(),
                }
                .encode_to_vec(),
            ),
            Payload::Propose {
                actual_from,
                changes,
                number,
            } => (
                2,
                ConfigPropose {
                    actual_from: actual_from % 8,
                    changes: changes.into_iter().map(Change::proto).collect(),
                    configuration_number: number % 2,
                }
                .encode_to_vec(),
            ),
            Payload::Vote(hash) => (3, ConfigVote { propose_hash: hash }.encode_to_vec()),
            Payload::Migration {
                artifact,
                service,
                deadline,
                seed,
            } => (
                4,
                MigrationRequest {
                    new_artifact: Some(artifact.proto()),
                    service,
                    deadline_height: deadline,
                    seed,
                }
                .encode_to_vec(),
            ),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Another method than the payload's, sometimes.
    method: Option<u8>,
    payload: Payload,
}

thread_local! {
    static CHAIN: RefCell<TestKit> = RefCell::new(TestKitBuilder::new(1).with_supervisor(SupervisorMode::Simple).build());
}

fuzz_target!(|input: Input| {
    let (method, arguments) = input.payload.encode();
    let method_id = input.method.map_or(method, |method| u32::from(method % 8));
    CHAIN.with_borrow_mut(|chain| {
        let call = CallInfo {
            instance_id: SUPERVISOR_INSTANCE_ID,
            method_id,
        };
        let signed = chain.sign_as_validator(0, call, arguments);
        let errors = chain.execute_and_discard(vec![signed]);
        for (location, error) in &errors {
            assert_eq!(*location, CallLocation::Transaction(0), "a hook failed: {error:?}");
            let contained = matches!(
                error.kind,
                ErrorKind::Service(_) | ErrorKind::Common(_) | ErrorKind::Core(_)
            ) || error.kind == ErrorKind::Runtime(RuntimeErrorCode::ArtifactRefused as u8);
            assert!(contained, "method {method_id}: not a clear refusal: {error:?}");
        }
    });
});
