//! Component validation and the privilege boundary.

use wasmvisor_artifacts::{DISPATCHER_INTRUDER, SUPERVISOR, TOKEN};
use wasmvisor_wasm::{
    DISPATCHER_IMPORT, Privilege, SERVICE_IMPORTS, ServiceComponent, WasmError, WasmService, deterministic_engine,
};

#[test]
fn token_component_imports_only_service_interfaces() {
    let engine = deterministic_engine().unwrap();
    let token = ServiceComponent::compile(&engine, TOKEN.bytes, Privilege::Service).unwrap();
    assert!(!token.imports().is_empty(), "the token guest uses storage and context");
    for import in token.imports() {
        assert!(SERVICE_IMPORTS.contains(&import.as_str()), "unexpected import {import}");
    }
}

#[test]
fn supervisor_component_imports_dispatcher_and_passes_as_supervisor() {
    let engine = deterministic_engine().unwrap();
    let supervisor = ServiceComponent::compile(&engine, SUPERVISOR.bytes, Privilege::Supervisor).unwrap();
    assert!(supervisor.imports().iter().any(|import| import == DISPATCHER_IMPORT));
}

#[test]
fn non_supervisor_importing_dispatcher_is_refused() {
    let engine = deterministic_engine().unwrap();
    let error = ServiceComponent::compile(&engine, DISPATCHER_INTRUDER.bytes, Privilege::Service).unwrap_err();
    match error {
        WasmError::ForbiddenImport { import, privilege } => {
            assert_eq!(import, DISPATCHER_IMPORT);
            assert_eq!(privilege, "service");
        }
        other => panic!("expected ForbiddenImport, got {other}"),
    }
    // The same bytes validated as the supervisor's artifact pass the import
    // check: the boundary is the privilege class, not the bytes.
    ServiceComponent::compile(&engine, DISPATCHER_INTRUDER.bytes, Privilege::Supervisor).unwrap();
}

#[test]
fn supervisor_cannot_be_linked_as_an_ordinary_service() {
    let engine = deterministic_engine().unwrap();
    let supervisor = ServiceComponent::compile(&engine, SUPERVISOR.bytes, Privilege::Supervisor).unwrap();
    // The service linker has no dispatcher interface, so linking fails...
    let error = wasmvisor_wasm::link_as_ordinary_service(&engine, &supervisor).expect_err("linking must fail");
    assert!(error.to_string().contains("dispatcher"), "{error}");
    // ...while the supervisor's own linker satisfies it.
    WasmService::new(&engine, &supervisor).unwrap();
}

#[test]
fn garbage_bytes_are_not_a_component() {
    let engine = deterministic_engine().unwrap();
    let error = ServiceComponent::compile(&engine, b"\0asm not really", Privilege::Service).unwrap_err();
    assert!(matches!(error, WasmError::InvalidComponent(_)), "{error}");
}

#[test]
fn components_are_written_to_the_documented_directory() {
    for guest in wasmvisor_artifacts::ALL {
        let path = std::path::Path::new(guest.path);
        assert_eq!(
            path.parent().unwrap(),
            std::path::Path::new(wasmvisor_artifacts::COMPONENT_DIR)
        );
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("{}.wasm", guest.name)
        );
        assert_eq!(
            std::fs::read(path).unwrap(),
            guest.bytes,
            "{} on disk differs",
            guest.name
        );
    }
}
