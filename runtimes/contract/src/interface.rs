//! A service's interface: its methods, queries and errors by name, with the
//! protobuf descriptors of its messages, so that clients in any language
//! can call it with JSON.
//!
//! A wasm component carries its interface in two custom sections, written
//! by the SDK's `#[service]` macro: [`INTERFACE_SECTION`] (JSON, the
//! [`ServiceInterface`] document) and [`DESCRIPTORS_SECTION`] (an encoded
//! `google.protobuf.FileDescriptorSet`). A deploy refuses a component whose
//! interface does not parse ([`ServiceInterface::parse`] says why); a
//! component without one deploys as an untyped service. The interface
//! changes no call's outcome: it only translates JSON to the bytes a
//! service sees and back. Its validity is part of a deploy's check, like
//! the component's own; a future format is a new `format` number, which
//! this node refuses rather than half-reads.

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use wasmvisor_limits::{
    INTERFACE_BYTES_MAX, INTERFACE_DESCRIPTORS_BYTES_MAX, INTERFACE_ENTRIES_ITEMS_MAX,
    INTERFACE_MESSAGE_NAME_BYTES_MAX, INTERFACE_NAME_BYTES_MAX, JSON_DECODE_BYTES_MAX, is_interface_error_name,
    is_interface_member_name,
};

/// Name of the custom section holding the interface (JSON).
pub const INTERFACE_SECTION: &str = "wasmvisor:interface";
/// Name of the custom section holding the descriptors of its messages.
pub const DESCRIPTORS_SECTION: &str = "wasmvisor:descriptors";
/// The interface format this node reads.
pub const INTERFACE_FORMAT: u32 = 1;

/// How a payload (arguments, an answer, parameters) is carried as bytes,
/// and how it is written in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// No bytes; JSON `null`.
    Empty,
    /// Raw bytes; JSON: a hex string.
    Bytes,
    /// UTF-8 text; JSON: a string.
    String,
    /// 8 bytes, little-endian; JSON: a decimal string (or a number on input).
    U64,
    /// A protobuf message of this full name; JSON: the message in the
    /// protobuf JSON mapping (proto field names; bytes in base64; 64-bit
    /// integers as strings).
    Message(String),
}

/// One transaction method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodInfo {
    /// Its stable id (what a transaction names).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its arguments.
    pub arguments: Payload,
}

/// One read query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryInfo {
    /// Its name (the last segment of its URL).
    pub name: String,
    /// Served only on the node's private API.
    #[serde(default)]
    pub private: bool,
    /// Its arguments.
    pub arguments: Payload,
    /// Its answer.
    pub answer: Payload,
}

/// One of the service's own errors (kind `service`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorInfo {
    /// Its stable code.
    pub code: u8,
    /// Its name.
    pub name: String,
}

/// The interface document, as the component states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    format: u32,
    constructor: Option<Payload>,
    configuration: Option<Payload>,
    methods: Vec<MethodInfo>,
    queries: Vec<QueryInfo>,
    errors: Vec<ErrorInfo>,
}

/// A checked interface.
#[derive(Debug, Clone)]
pub struct ServiceInterface {
    document: Document,
    descriptors: Vec<u8>,
    pool: DescriptorPool,
}

/// Why an interface is refused (the reason a deploy gives).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the service's interface is malformed: {0}")]
pub struct InterfaceError(pub String);

fn refuse(reason: impl Into<String>) -> InterfaceError {
    InterfaceError(reason.into())
}

fn check_name(what: &str, name: &str, valid: fn(&str) -> bool) -> Result<(), InterfaceError> {
    if !valid(name) {
        let reserved = if what == "error" {
            ""
        } else {
            ", and not `interface` (reserved by the node's API)"
        };
        return Err(refuse(format!(
            "{what} name {name:?} is not 1 to {INTERFACE_NAME_BYTES_MAX} bytes of the allowed characters{reserved}"
        )));
    }
    Ok(())
}

fn unique<T: Ord>(
    what: &str,
    items: impl IntoIterator<Item = T>,
    show: impl Fn(&T) -> String,
) -> Result<(), InterfaceError> {
    let mut seen = BTreeSet::new();
    for item in items {
        let shown = show(&item);
        if !seen.insert(item) {
            return Err(refuse(format!("two {what} are {shown}")));
        }
    }
    Ok(())
}

impl ServiceInterface {
    /// Parses and checks an interface and its descriptors: sizes, the
    /// format, names (unique; methods and queries in `a-z 0-9 _ -`, errors
    /// in `A-Z a-z 0-9 _`), ids and codes (unique), entry counts, and that
    /// every message it names is in the descriptors.
    pub fn parse(interface: &[u8], descriptors: Option<&[u8]>) -> Result<Self, InterfaceError> {
        if interface.len() > INTERFACE_BYTES_MAX {
            return Err(refuse(format!(
                "the interface of {} bytes exceeds the maximum of {INTERFACE_BYTES_MAX}",
                interface.len()
            )));
        }
        let descriptors = descriptors.unwrap_or_default();
        if descriptors.len() > INTERFACE_DESCRIPTORS_BYTES_MAX {
            return Err(refuse(format!(
                "the descriptors of {} bytes exceed the maximum of {INTERFACE_DESCRIPTORS_BYTES_MAX}",
                descriptors.len()
            )));
        }
        let document: Document =
            serde_json::from_slice(interface).map_err(|error| refuse(format!("the JSON does not parse: {error}")))?;
        if document.format != INTERFACE_FORMAT {
            return Err(refuse(format!(
                "format {} is not the format {INTERFACE_FORMAT} this node reads",
                document.format
            )));
        }
        for (what, count) in [
            ("methods", document.methods.len()),
            ("queries", document.queries.len()),
            ("errors", document.errors.len()),
        ] {
            if count > INTERFACE_ENTRIES_ITEMS_MAX {
                return Err(refuse(format!(
                    "{count} {what} exceed the maximum of {INTERFACE_ENTRIES_ITEMS_MAX}"
                )));
            }
        }
        for method in &document.methods {
            check_name("method", &method.name, is_interface_member_name)?;
        }
        for query in &document.queries {
            check_name("query", &query.name, is_interface_member_name)?;
        }
        for error in &document.errors {
            check_name("error", &error.name, is_interface_error_name)?;
        }
        unique("method ids", document.methods.iter().map(|method| method.id), |id| {
            id.to_string()
        })?;
        unique(
            "method names",
            document.methods.iter().map(|method| &method.name),
            |name| format!("{name:?}"),
        )?;
        unique(
            "query names",
            document.queries.iter().map(|query| &query.name),
            |name| format!("{name:?}"),
        )?;
        unique("error codes", document.errors.iter().map(|error| error.code), |code| {
            code.to_string()
        })?;
        unique("error names", document.errors.iter().map(|error| &error.name), |name| {
            format!("{name:?}")
        })?;

        let pool = if descriptors.is_empty() {
            DescriptorPool::new()
        } else {
            DescriptorPool::decode(descriptors)
                .map_err(|error| refuse(format!("the descriptors do not decode: {error}")))?
        };
        let interface = Self {
            document,
            descriptors: descriptors.to_vec(),
            pool,
        };
        for payload in interface.payloads() {
            if let Payload::Message(name) = payload {
                interface.check_payload_message(name).map_err(refuse)?;
            }
        }
        Ok(interface)
    }

    /// Reads back an interface as a node's API serves it
    /// ([`ServiceInterface::to_json`]), with every check of
    /// [`ServiceInterface::parse`]: how a client learns a service's
    /// interface.
    pub fn from_served(served: &Value) -> Result<Self, InterfaceError> {
        let field = |name: &str| served.get(name).cloned().unwrap_or(Value::Null);
        let document = json!({
            "format": field("format"),
            "constructor": field("constructor"),
            "configuration": field("configuration"),
            "methods": field("methods"),
            "queries": field("queries"),
            "errors": field("errors"),
        });
        let descriptors = served
            .get("descriptors")
            .and_then(Value::as_str)
            .map(hex::decode)
            .transpose()
            .map_err(|error| refuse(format!("the descriptors are not hex: {error}")))?;
        let document = serde_json::to_vec(&document).map_err(|error| refuse(error.to_string()))?;
        Self::parse(&document, descriptors.as_deref())
    }

    fn payloads(&self) -> impl Iterator<Item = &Payload> {
        let document = &self.document;
        document
            .constructor
            .iter()
            .chain(&document.configuration)
            .chain(document.methods.iter().map(|method| &method.arguments))
            .chain(
                document
                    .queries
                    .iter()
                    .flat_map(|query| [&query.arguments, &query.answer]),
            )
    }

    /// Checks the message a payload names: a top-level message of the
    /// descriptors. A nested message cannot be a payload: the SDK names a
    /// payload by its package and short name (`prost::Name`'s constants),
    /// which for a nested message would name another message or none, so
    /// a short name that a nested message also has in that package is
    /// refused rather than guessed. Done once, at parse.
    fn check_payload_message(&self, name: &str) -> Result<(), String> {
        let message = self.message(name)?;
        let ambiguous = self.pool.all_messages().any(|other| {
            other.parent_message().is_some()
                && other.package_name() == message.package_name()
                && other.name() == message.name()
        });
        if message.parent_message().is_some() || ambiguous {
            return Err(format!(
                "message {name:?} is, or shares its name with, a nested message: a payload is a top-level message \
                 with a name of its own in its package"
            ));
        }
        Ok(())
    }

    /// The message a payload names (every one was checked at parse).
    fn message(&self, name: &str) -> Result<MessageDescriptor, String> {
        let name = name.strip_prefix('.').unwrap_or(name);
        if name.len() > INTERFACE_MESSAGE_NAME_BYTES_MAX {
            return Err(format!(
                "a message name is at most {INTERFACE_MESSAGE_NAME_BYTES_MAX} bytes"
            ));
        }
        self.pool
            .get_message_by_name(name)
            .ok_or_else(|| format!("message {name:?} is not in the service's descriptors"))
    }

    /// The transaction methods.
    pub fn methods(&self) -> &[MethodInfo] {
        &self.document.methods
    }

    /// The method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodInfo> {
        self.document.methods.iter().find(|method| method.name == name)
    }

    /// The method with id `id`.
    pub fn method_by_id(&self, id: u32) -> Option<&MethodInfo> {
        self.document.methods.iter().find(|method| method.id == id)
    }

    /// The read queries.
    pub fn queries(&self) -> &[QueryInfo] {
        &self.document.queries
    }

    /// The query called `name`.
    pub fn query(&self, name: &str) -> Option<&QueryInfo> {
        self.document.queries.iter().find(|query| query.name == name)
    }

    /// The service's own errors.
    pub fn errors(&self) -> &[ErrorInfo] {
        &self.document.errors
    }

    /// The name of the service's error `code`.
    pub fn error_name(&self, code: u8) -> Option<&str> {
        self.document
            .errors
            .iter()
            .find(|error| error.code == code)
            .map(|error| error.name.as_str())
    }

    /// The constructor's parameters, if the service states them.
    pub fn constructor(&self) -> Option<&Payload> {
        self.document.constructor.as_ref()
    }

    /// The configuration, if the service is configurable.
    pub fn configuration(&self) -> Option<&Payload> {
        self.document.configuration.as_ref()
    }

    /// The encoded descriptor set (empty if the service uses no messages).
    pub fn descriptors(&self) -> &[u8] {
        &self.descriptors
    }

    /// Encodes the JSON `value` as `payload` (what a client sends).
    pub fn encode_json(&self, payload: &Payload, value: &Value) -> Result<Vec<u8>, String> {
        match payload {
            Payload::Empty => match value {
                Value::Null => Ok(Vec::new()),
                Value::Object(fields) if fields.is_empty() => Ok(Vec::new()),
                _ => Err("takes no arguments: send null".into()),
            },
            Payload::Bytes => {
                let text = value.as_str().ok_or("expects a hex string")?;
                hex::decode(text).map_err(|error| format!("expects a hex string: {error}"))
            }
            Payload::String => value
                .as_str()
                .map(|text| text.as_bytes().to_vec())
                .ok_or("expects a string".into()),
            Payload::U64 => {
                let number = match value {
                    Value::Number(number) => number.as_u64(),
                    Value::String(text) => text.parse().ok(),
                    _ => None,
                };
                number
                    .map(|number| number.to_le_bytes().to_vec())
                    .ok_or("expects an unsigned 64-bit integer".into())
            }
            Payload::Message(name) => {
                let descriptor = self.message(name)?;
                let name = descriptor.full_name();
                let message = DynamicMessage::deserialize(descriptor.clone(), value)
                    .map_err(|error| format!("not a valid {name} in JSON: {error}"))?;
                Ok(prost::Message::encode_to_vec(&message))
            }
        }
    }

    /// Decodes `bytes` as `payload` into JSON (what a client is shown), at
    /// most [`JSON_DECODE_BYTES_MAX`] of them: JSON may be many times larger
    /// than the bytes it shows (every field of every empty sub-message is
    /// written out), so larger payloads are refused rather than expanded.
    pub fn decode_json(&self, payload: &Payload, bytes: &[u8]) -> Result<Value, String> {
        if bytes.len() > JSON_DECODE_BYTES_MAX {
            return Err(format!(
                "{} bytes are more than the {JSON_DECODE_BYTES_MAX} shown as JSON",
                bytes.len()
            ));
        }
        match payload {
            Payload::Empty if bytes.is_empty() => Ok(Value::Null),
            Payload::Empty => Err(format!("{} bytes where none were expected", bytes.len())),
            Payload::Bytes => Ok(Value::String(hex::encode(bytes))),
            Payload::String => std::str::from_utf8(bytes)
                .map(|text| Value::String(text.to_owned()))
                .map_err(|_| "not UTF-8 text".into()),
            Payload::U64 => <[u8; 8]>::try_from(bytes)
                .map(|bytes| Value::String(u64::from_le_bytes(bytes).to_string()))
                .map_err(|_| format!("{} bytes are not a little-endian u64", bytes.len())),
            Payload::Message(name) => {
                let descriptor = self.message(name)?;
                let name = descriptor.full_name();
                let message = DynamicMessage::decode(descriptor.clone(), bytes)
                    .map_err(|error| format!("the bytes are not a {name}: {error}"))?;
                let options = SerializeOptions::new()
                    .use_proto_field_name(true)
                    .skip_default_fields(false);
                message
                    .serialize_with_options(serde_json::value::Serializer, &options)
                    .map_err(|error| format!("{name} does not convert to JSON: {error}"))
            }
        }
    }

    /// The interface as the node's API shows it: the document, every
    /// message's fields, and the descriptors (hex).
    pub fn to_json(&self) -> Value {
        let messages: serde_json::Map<String, Value> = self
            .pool
            .all_messages()
            .map(|message| {
                let fields: Vec<Value> = message
                    .fields()
                    .map(|field| {
                        json!({
                            "name": field.name(),
                            "number": field.number(),
                            "type": kind_name(&field.kind()),
                            "repeated": field.is_list(),
                        })
                    })
                    .collect();
                (message.full_name().to_owned(), json!({ "fields": fields }))
            })
            .collect();
        json!({
            "format": self.document.format,
            "constructor": self.document.constructor,
            "configuration": self.document.configuration,
            "methods": self.document.methods,
            "queries": self.document.queries,
            "errors": self.document.errors,
            "messages": messages,
            "descriptors": hex::encode(&self.descriptors),
        })
    }
}

/// A field's type as the interface shows it: the scalar's protobuf name,
/// or the full name of a message or enum.
fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(message) => message.full_name().to_owned(),
        Kind::Enum(enumeration) => enumeration.full_name().to_owned(),
        scalar => format!("{scalar:?}").to_lowercase(),
    }
}

#[cfg(test)]
mod tests;
