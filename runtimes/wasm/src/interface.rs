//! Finding the interface a component embeds (see
//! [`wasmvisor_runtime::interface`]).

use wasmparser::{Parser, Payload};
use wasmvisor_runtime::interface::{DESCRIPTORS_SECTION, INTERFACE_SECTION, InterfaceError, ServiceInterface};

/// The interface embedded in `component`'s custom sections, checked:
/// `None` if it embeds none; refused if a section appears twice (in the
/// component or any module in it), if there are descriptors without an
/// interface, or if the interface does not parse.
pub fn embedded_interface(component: &[u8]) -> Result<Option<ServiceInterface>, InterfaceError> {
    let mut interface = None;
    let mut descriptors = None;
    for payload in Parser::new(0).parse_all(component) {
        let payload =
            payload.map_err(|error| InterfaceError(format!("the component's sections do not parse: {error}")))?;
        let Payload::CustomSection(section) = payload else {
            continue;
        };
        let slot = match section.name() {
            INTERFACE_SECTION => &mut interface,
            DESCRIPTORS_SECTION => &mut descriptors,
            _ => continue,
        };
        if slot.replace(section.data()).is_some() {
            return Err(InterfaceError(format!(
                "the component has more than one {:?} section",
                section.name()
            )));
        }
    }
    match (interface, descriptors) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(InterfaceError(format!(
            "the component has a {DESCRIPTORS_SECTION:?} section but no {INTERFACE_SECTION:?} section"
        ))),
        (Some(interface), descriptors) => ServiceInterface::parse(interface, descriptors).map(Some),
    }
}
