//! Deployment requested from the mailbox runs in the background: blocks go
//! on while it runs, and a block that needs the artifact waits for it there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use wasmvisor_dispatcher::{Dispatcher, GenesisConfig, LocalDeployStatus};
use wasmvisor_native::{NativeArtifact, NativeRuntime};
use wasmvisor_runtime::{
    ArtifactId, CallError, DeployTask, ExecutionContext, InstanceSpec, InstanceStatus, MailboxRequest, NodeError,
    Runtime,
};
use wasmvisor_storage::{MemoryDatabase, Snapshot};

use crate::support::{TestSupervisor, artifact};

/// A gate the test opens to let the deployment finish.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// Runtime 6: its only artifact deploys when the gate opens; it asks for
/// that deployment from its first `after_commit`.
#[derive(Default)]
struct SlowRuntime {
    gate: Arc<Gate>,
    requested: AtomicBool,
    deployed: Arc<AtomicBool>,
}

impl Runtime for SlowRuntime {
    fn id(&self) -> u32 {
        6
    }
    fn deploy_artifact(&self, _artifact: ArtifactId, _spec: Vec<u8>) -> DeployTask {
        let gate = Arc::clone(&self.gate);
        let deployed = Arc::clone(&self.deployed);
        Box::new(move || {
            gate.wait();
            deployed.store(true, Ordering::SeqCst);
            Ok(())
        })
    }
    fn is_artifact_deployed(&self, _artifact: &ArtifactId) -> bool {
        self.deployed.load(Ordering::SeqCst)
    }
    fn start_adding_service(&self, _context: ExecutionContext<'_>, _params: &[u8]) -> Result<(), CallError> {
        assert!(
            self.deployed.load(Ordering::SeqCst),
            "a constructor must never run before its artifact is deployed"
        );
        Ok(())
    }
    fn start_resuming_service(&self, _context: ExecutionContext<'_>, _params: &[u8]) -> Result<(), CallError> {
        Ok(())
    }
    fn commit_service(&self, _: &dyn Snapshot, _: &InstanceSpec, _: &InstanceStatus) -> Result<(), NodeError> {
        Ok(())
    }
    fn unload_artifact(&self, _artifact: &ArtifactId) {}
    fn execute(&self, _context: ExecutionContext<'_>, _method_id: u32, _arguments: &[u8]) -> Result<(), CallError> {
        Ok(())
    }
    fn before_transactions(&self, _context: ExecutionContext<'_>) -> Result<(), CallError> {
        Ok(())
    }
    fn after_transactions(&self, _context: ExecutionContext<'_>) -> Result<(), CallError> {
        Ok(())
    }
    fn after_commit(&self, context: wasmvisor_runtime::AfterCommitContext<'_>) -> Result<(), NodeError> {
        if !self.requested.swap(true, Ordering::SeqCst) {
            context.mailbox.push(MailboxRequest::DeployArtifact {
                artifact: artifact("6:slow:1.0.0"),
                spec: b"slow".to_vec(),
            });
        }
        Ok(())
    }
}

#[test]
fn blocks_go_on_while_an_artifact_deploys_and_wait_only_where_it_is_needed() {
    let slow = Arc::new(SlowRuntime::default());
    let gate = Arc::clone(&slow.gate);
    let native = NativeRuntime::new(vec![Arc::new(TestSupervisor)]);
    let runtimes: Vec<Arc<dyn Runtime>> = vec![Arc::new(native), slow];
    let mut dispatcher = Dispatcher::new(Arc::new(MemoryDatabase::new()), runtimes);
    let supervisor = TestSupervisor.artifact_id();
    dispatcher
        .genesis(GenesisConfig {
            consensus: Default::default(),
            artifacts: vec![(supervisor.clone(), vec![])],
            instances: vec![(
                InstanceSpec {
                    id: 0,
                    name: "supervisor".into(),
                    artifact: supervisor,
                },
                vec![],
            )],
        })
        .unwrap();
    let slow_artifact = artifact("6:slow:1.0.0");
    assert_eq!(
        dispatcher.local_deploy_status(&slow_artifact),
        LocalDeployStatus::Pending
    );

    // Blocks are produced while the deployment is stuck.
    for _ in 0..3 {
        let proposal = dispatcher.execute_proposal(&[]).unwrap();
        dispatcher.commit(proposal).unwrap();
    }
    assert_eq!(
        dispatcher.local_deploy_status(&slow_artifact),
        LocalDeployStatus::Pending
    );

    // A block that registers the artifact and starts an instance of it needs
    // the deployment: it waits there until the gate opens.
    let opener = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        gate.open();
    });
    let command = |text: &str, seed: u8| wasmvisor_dispatcher::Transaction {
        author: [0xaa; 32],
        hash: [seed; 32],
        call: wasmvisor_runtime::CallInfo {
            instance_id: 0,
            method_id: 0,
        },
        arguments: text.as_bytes().to_vec(),
    };
    let proposal = dispatcher
        .execute_proposal(&[command("register 6:slow:1.0.0", 1)])
        .unwrap();
    assert!(proposal.errors.is_empty());
    dispatcher.commit(proposal).unwrap();
    let proposal = dispatcher
        .execute_proposal(&[command("add 7 slow-one 6:slow:1.0.0", 2)])
        .unwrap();
    assert!(proposal.errors.is_empty(), "{:?}", proposal.errors);
    dispatcher.commit(proposal).unwrap();
    opener.join().unwrap();
    assert_eq!(
        dispatcher.local_deploy_status(&slow_artifact),
        LocalDeployStatus::Succeeded
    );
    assert_eq!(
        dispatcher.instance(7).unwrap().unwrap().status,
        Some(InstanceStatus::Active)
    );

    // This runtime cannot freeze its services: Freeze is refused (the
    // seed's rule), and the instance stays Active.
    let proposal = dispatcher.execute_proposal(&[command("freeze 7", 3)]).unwrap();
    let error = &proposal.errors[&wasmvisor_runtime::CallLocation::Transaction(0)];
    assert_eq!(
        error.kind,
        wasmvisor_runtime::ErrorKind::Common(wasmvisor_runtime::CommonError::FeatureNotSupported as u8),
        "{error:?}"
    );
    dispatcher.commit(proposal).unwrap();
    assert_eq!(
        dispatcher.instance(7).unwrap().unwrap().status,
        Some(InstanceStatus::Active)
    );
}
