//! Compiles the protobuf schemas with `protox` (pure Rust), so no system
//! `protoc` is needed, and generates the Rust types with `prost-build`.

use std::path::Path;

use prost::Message;

const SCHEMAS: &[&str] = &[
    "runtime.proto",
    "messages.proto",
    "blockchain.proto",
    "supervisor.proto",
    "token.proto",
    "dispatcher.proto",
    "consensus.proto",
];

fn main() {
    let schema_dir = Path::new("schemas");
    for schema in SCHEMAS {
        println!("cargo:rerun-if-changed=schemas/{schema}");
    }
    let descriptors = match protox::compile(SCHEMAS, [schema_dir]) {
        Ok(descriptors) => descriptors,
        Err(error) => panic!("the protobuf schemas in wit/proto/schemas do not compile: {error}"),
    };
    // The token service's interface embeds the descriptors of its messages
    // (token.proto and what it imports), so clients can read them.
    let token = match protox::compile(["token.proto"], [schema_dir]) {
        Ok(token) => token,
        Err(error) => panic!("token.proto does not compile: {error}"),
    };
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(error) = std::fs::write(out_dir.join("token.descriptors.bin"), token.encode_to_vec()) {
        panic!("cannot write token.descriptors.bin: {error}");
    }
    // The supervisor's interface embeds the descriptors of its messages
    // (supervisor.proto and what it imports).
    let supervisor = match protox::compile(["supervisor.proto"], [schema_dir]) {
        Ok(supervisor) => supervisor,
        Err(error) => panic!("supervisor.proto does not compile: {error}"),
    };
    if let Err(error) = std::fs::write(out_dir.join("supervisor.descriptors.bin"), supervisor.encode_to_vec()) {
        panic!("cannot write supervisor.descriptors.bin: {error}");
    }
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    if let Err(error) = config.compile_fds(descriptors) {
        panic!("prost-build could not generate code from the schemas: {error}");
    }
}
