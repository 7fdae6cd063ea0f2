//! Deploys, service states and artifacts through governance.
