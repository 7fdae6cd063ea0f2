//! `#[service]`: a service's transactions, queries and hooks from an
//! ordinary `impl` block, and its interface embedded in the component.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use syn::parse::Parser;
use syn::{Attribute, Expr, FnArg, ImplItem, ImplItemFn, ItemImpl, LitInt, LitStr, Path, ReturnType, Type};

use wasmvisor_limits::{INTERFACE_NAME_BYTES_MAX as NAME_BYTES_MAX, is_interface_member_name};

/// The lifecycle hooks `#[hook]` passes through unchanged.
const HOOKS: &[&str] = &[
    "resume",
    "before_transactions",
    "after_transactions",
    "after_commit",
    "plan_migration",
    "migrate_data",
];

/// The macro's own arguments: `errors = Type, descriptors = CONST`.
#[derive(Default)]
struct Arguments {
    errors: Option<Path>,
    descriptors: Option<Expr>,
}

fn arguments(tokens: TokenStream) -> syn::Result<Arguments> {
    let mut arguments = Arguments::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("errors") {
            arguments.errors = Some(meta.value()?.parse()?);
            Ok(())
        } else if meta.path.is_ident("descriptors") {
            arguments.descriptors = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `errors = ErrorEnum` or `descriptors = FILE_DESCRIPTOR_SET`"))
        }
    });
    parser.parse2(tokens)?;
    Ok(arguments)
}

/// How a payload type travels (see `wasmvisor_sdk::__private::Payload`).
enum Payload {
    Empty,
    Bytes,
    Text,
    U64,
    Message(Box<Type>),
}

impl Payload {
    fn of(ty: Option<&Type>) -> Self {
        let Some(ty) = ty else { return Payload::Empty };
        let spelled = ty.to_token_stream().to_string().replace(' ', "");
        match spelled.as_str() {
            "()" => Payload::Empty,
            "Vec<u8>" => Payload::Bytes,
            "String" => Payload::Text,
            "u64" => Payload::U64,
            _ => Payload::Message(Box::new(ty.clone())),
        }
    }

    /// The type the SDK decodes into (`Message<T>` wraps a message).
    fn carrier(&self) -> TokenStream {
        match self {
            Payload::Empty => quote!(()),
            Payload::Bytes => quote!(::std::vec::Vec<u8>),
            Payload::Text => quote!(::std::string::String),
            Payload::U64 => quote!(u64),
            Payload::Message(ty) => quote!(::wasmvisor_sdk::__private::Message<#ty>),
        }
    }

    /// From the carrier to the author's type.
    fn unwrap(&self, value: TokenStream) -> TokenStream {
        match self {
            Payload::Message(_) => quote!(#value.0),
            _ => value,
        }
    }

    /// From the author's type to the carrier.
    fn wrap(&self, value: TokenStream) -> TokenStream {
        match self {
            Payload::Message(_) => quote!(::wasmvisor_sdk::__private::Message(#value)),
            _ => value,
        }
    }

    /// What a decoding failure calls the payload.
    fn what(&self, fallback: &str) -> TokenStream {
        match self {
            Payload::Message(ty) => quote!(<#ty as ::wasmvisor_sdk::__private::prost::Name>::NAME),
            _ => quote!(#fallback),
        }
    }

    /// The pieces of the payload's JSON in the interface (const strings).
    fn json(&self) -> Vec<TokenStream> {
        match self {
            Payload::Empty => vec![quote!("\"empty\"")],
            Payload::Bytes => vec![quote!("\"bytes\"")],
            Payload::Text => vec![quote!("\"string\"")],
            Payload::U64 => vec![quote!("\"u64\"")],
            Payload::Message(ty) => vec![
                quote!("{\"message\":\""),
                quote!(<#ty as ::wasmvisor_sdk::__private::prost::Name>::PACKAGE),
                quote!("."),
                quote!(<#ty as ::wasmvisor_sdk::__private::prost::Name>::NAME),
                quote!("\"}"),
            ],
        }
    }

    fn is_message(&self) -> bool {
        matches!(self, Payload::Message(_))
    }
}

/// What one function of the block is.
enum Role {
    Method { id: u32 },
    Query { name: String, private: bool },
    Constructor,
    VerifyConfig,
    ApplyConfig,
    Hook,
}

const ROLES: &str = "#[method(id = N)], #[query], #[constructor], #[verify_config], #[apply_config] or #[hook]";

fn role(function: &ImplItemFn) -> syn::Result<Option<(usize, Role)>> {
    let mut found = None;
    for (index, attribute) in function.attrs.iter().enumerate() {
        let role = if attribute.path().is_ident("method") {
            let mut id = None;
            let stated = !matches!(attribute.meta, syn::Meta::Path(_));
            if stated {
                attribute.parse_nested_meta(|meta| {
                    if meta.path.is_ident("id") {
                        id = Some(meta.value()?.parse::<LitInt>()?.base10_parse::<u32>()?);
                        Ok(())
                    } else {
                        Err(meta.error("expected `id = N`"))
                    }
                })?;
            }
            let id = id.ok_or_else(|| {
                syn::Error::new_spanned(attribute, "a method states its stable id: #[method(id = N)]")
            })?;
            Role::Method { id }
        } else if attribute.path().is_ident("query") {
            query_role(attribute, function)?
        } else if attribute.path().is_ident("constructor") {
            Role::Constructor
        } else if attribute.path().is_ident("verify_config") {
            Role::VerifyConfig
        } else if attribute.path().is_ident("apply_config") {
            Role::ApplyConfig
        } else if attribute.path().is_ident("hook") {
            if !HOOKS.contains(&function.sig.ident.to_string().as_str()) {
                return Err(syn::Error::new_spanned(
                    &function.sig.ident,
                    format!("#[hook] is for the hooks named {}", HOOKS.join(", ")),
                ));
            }
            Role::Hook
        } else {
            continue;
        };
        if found.is_some() {
            return Err(syn::Error::new_spanned(
                attribute,
                format!("one of {ROLES} per function"),
            ));
        }
        found = Some((index, role));
    }
    Ok(found)
}

fn query_role(attribute: &Attribute, function: &ImplItemFn) -> syn::Result<Role> {
    let mut name = function.sig.ident.to_string();
    let mut private = false;
    if !matches!(attribute.meta, syn::Meta::Path(_)) {
        attribute.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else if meta.path.is_ident("private") {
                private = true;
                Ok(())
            } else {
                Err(meta.error("expected `name = \"...\"` or `private`"))
            }
        })?;
    }
    if name == "interface" {
        return Err(syn::Error::new_spanned(
            attribute,
            format!("query name {name:?} is reserved by the node's API"),
        ));
    }
    if !is_interface_member_name(&name) {
        return Err(syn::Error::new_spanned(
            attribute,
            format!("a query name is 1 to {NAME_BYTES_MAX} of a-z, 0-9, `_` and `-`"),
        ));
    }
    Ok(Role::Query { name, private })
}

/// The single typed argument of a function (none, or one `name: Type`).
fn argument(function: &ImplItemFn) -> syn::Result<Option<&Type>> {
    let mut typed = function.sig.inputs.iter().map(|input| match input {
        FnArg::Typed(pattern) => Ok(&*pattern.ty),
        FnArg::Receiver(receiver) => Err(syn::Error::new_spanned(
            receiver,
            "service functions take no `self`: services keep their state in storage",
        )),
    });
    let first = typed.next().transpose()?;
    if let Some(extra) = function.sig.inputs.iter().nth(1) {
        return Err(syn::Error::new_spanned(
            extra,
            "a service function takes at most one argument",
        ));
    }
    Ok(first)
}

/// What the generated code passes to the author's function: nothing if it
/// takes no argument, else the decoded payload held in `carrier`.
fn passed(function: &ImplItemFn, payload: &Payload, carrier: TokenStream) -> TokenStream {
    if function.sig.inputs.is_empty() {
        quote!()
    } else {
        payload.unwrap(carrier)
    }
}

/// The `T` of a query's `-> Result<T, QueryError>`.
fn answer(function: &ImplItemFn) -> syn::Result<&Type> {
    let error = || syn::Error::new_spanned(&function.sig, "a query returns Result<Answer, QueryError>");
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return Err(error());
    };
    let Type::Path(path) = &**ty else { return Err(error()) };
    let last = path.path.segments.last().ok_or_else(error)?;
    let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
        return Err(error());
    };
    match generics.args.first() {
        Some(syn::GenericArgument::Type(answer)) if last.ident == "Result" => Ok(answer),
        _ => Err(error()),
    }
}

/// Expands `#[service(...)] impl Name { ... }`.
pub fn expand(attribute: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let arguments = arguments(attribute)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    if let Some((_, path, _)) = &block.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "#[service] goes on an inherent `impl Name { ... }`",
        ));
    }
    if !block.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &block.generics,
            "a service has no generic parameters",
        ));
    }
    let self_ty = block.self_ty.clone();

    let mut methods = Vec::new();
    let mut method_json = Vec::new();
    let mut queries = Vec::new();
    let mut query_json = Vec::new();
    let mut hooks = Vec::new();
    let mut constructor = None;
    let mut configuration: Option<(Payload, TokenStream)> = None;
    let mut verify = None;
    let mut apply = None;
    let mut needs_descriptors = false;
    let mut method_ids: Vec<(u32, String)> = Vec::new();
    let mut query_names: Vec<String> = Vec::new();

    for item in &mut block.items {
        let ImplItem::Fn(function) = item else { continue };
        let Some((index, role)) = role(function)? else { continue };
        function.attrs.remove(index);
        let ident = function.sig.ident.clone();
        let name = ident.to_string();
        match role {
            Role::Method { id } => {
                if let Some((_, other)) = method_ids.iter().find(|(other_id, _)| *other_id == id) {
                    return Err(syn::Error::new_spanned(
                        &function.sig,
                        format!("method {other} has id {id} already"),
                    ));
                }
                if !is_interface_member_name(&name) {
                    return Err(syn::Error::new_spanned(
                        &ident,
                        format!("a method name is 1 to {NAME_BYTES_MAX} of a-z, 0-9, `_` and `-`"),
                    ));
                }
                method_ids.push((id, name.clone()));
                let payload = Payload::of(argument(function)?);
                needs_descriptors |= payload.is_message();
                let carrier = payload.carrier();
                let pass = passed(function, &payload, quote!(_arguments));
                methods.push(quote! {
                    #id => {
                        let _arguments: #carrier = ::wasmvisor_sdk::__private::method_arguments(#id, call.arguments)?;
                        Self::#ident(#pass)
                    }
                });
                let id_text = id.to_string();
                let mut json = vec![
                    quote!("{\"id\":"),
                    quote!(#id_text),
                    quote!(","),
                    quote!("\"name\":\""),
                    quote!(#name),
                    quote!("\",\"arguments\":"),
                ];
                json.extend(payload.json());
                json.push(quote!("}"));
                method_json.push(json);
            }
            Role::Query {
                name: query_name,
                private,
            } => {
                if query_names.contains(&query_name) {
                    return Err(syn::Error::new_spanned(
                        &function.sig,
                        format!("two queries are named {query_name:?}"),
                    ));
                }
                query_names.push(query_name.clone());
                let payload = Payload::of(argument(function)?);
                let answer = Payload::of(Some(answer(function)?));
                needs_descriptors |= payload.is_message() || answer.is_message();
                let carrier = payload.carrier();
                let what = payload.what(&format!("the arguments of query {query_name}"));
                let pass = passed(function, &payload, quote!(_arguments));
                let wrapped = answer.wrap(quote!(Self::#ident(#pass)?));
                queries.push(quote! {
                    #query_name => {
                        let _arguments: #carrier = ::wasmvisor_sdk::__private::query_arguments(#what, arguments)?;
                        Ok(::wasmvisor_sdk::__private::Payload::encode_payload(#wrapped))
                    }
                });
                let mut json = vec![quote!("{\"name\":\""), quote!(#query_name), quote!("\",\"private\":")];
                json.push(if private { quote!("true") } else { quote!("false") });
                json.push(quote!(",\"arguments\":"));
                json.extend(payload.json());
                json.push(quote!(",\"answer\":"));
                json.extend(answer.json());
                json.push(quote!("}"));
                query_json.push(json);
            }
            Role::Constructor => {
                if constructor.is_some() {
                    return Err(syn::Error::new_spanned(
                        &function.sig,
                        "a service has one #[constructor]",
                    ));
                }
                let payload = Payload::of(argument(function)?);
                needs_descriptors |= payload.is_message();
                let carrier = payload.carrier();
                let what = payload.what("the constructor's parameters");
                let pass = passed(function, &payload, quote!(_params));
                let json = payload.json();
                constructor = Some((
                    quote! {
                        fn initialize(params: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::wasmvisor_sdk::ExecutionError> {
                            let _params: #carrier = ::wasmvisor_sdk::__private::parameters(#what, params)?;
                            Self::#ident(#pass)
                        }
                    },
                    json,
                ));
            }
            Role::VerifyConfig | Role::ApplyConfig => {
                let argument_type = argument(function)?.ok_or_else(|| {
                    syn::Error::new_spanned(&function.sig, "a configuration hook takes the configuration")
                })?;
                let payload = Payload::of(Some(argument_type));
                needs_descriptors |= payload.is_message();
                let spelled = argument_type.to_token_stream().to_string();
                if let Some((_, other)) = &configuration
                    && other.to_string() != spelled
                {
                    return Err(syn::Error::new_spanned(
                        argument_type,
                        "#[verify_config] and #[apply_config] take the same configuration type",
                    ));
                }
                let carrier = payload.carrier();
                let what = payload.what("the configuration");
                let value = payload.unwrap(quote!(_params));
                let trait_fn = if matches!(role, Role::VerifyConfig) {
                    format_ident!("verify_config")
                } else {
                    format_ident!("apply_config")
                };
                let hook = quote! {
                    fn #trait_fn(params: ::std::vec::Vec<u8>) -> ::std::result::Result<(), ::wasmvisor_sdk::ExecutionError> {
                        let _params: #carrier = ::wasmvisor_sdk::__private::parameters(#what, params)?;
                        Self::#ident(#value)
                    }
                };
                let slot = if matches!(role, Role::VerifyConfig) {
                    &mut verify
                } else {
                    &mut apply
                };
                if slot.replace(hook).is_some() {
                    return Err(syn::Error::new_spanned(
                        &function.sig,
                        format!("a service has one #[{trait_fn}]"),
                    ));
                }
                configuration = Some((payload, argument_type.to_token_stream()));
            }
            Role::Hook => {
                let inputs = &function.sig.inputs;
                let output = &function.sig.output;
                let names = inputs.iter().filter_map(|input| match input {
                    FnArg::Typed(pattern) => Some(&pattern.pat),
                    FnArg::Receiver(_) => None,
                });
                hooks.push(quote! {
                    fn #ident(#inputs) #output {
                        Self::#ident(#(#names),*)
                    }
                });
            }
        }
    }
    for (what, count) in [("methods", method_ids.len()), ("queries", query_names.len())] {
        if count > wasmvisor_limits::INTERFACE_ENTRIES_ITEMS_MAX {
            return Err(syn::Error::new_spanned(
                &self_ty,
                format!(
                    "a service has at most {} {what}",
                    wasmvisor_limits::INTERFACE_ENTRIES_ITEMS_MAX
                ),
            ));
        }
    }
    if verify.is_some() != apply.is_some() {
        return Err(syn::Error::new_spanned(
            &self_ty,
            "a configurable service has both #[verify_config] and #[apply_config]",
        ));
    }
    if needs_descriptors && arguments.descriptors.is_none() {
        return Err(syn::Error::new_spanned(
            &self_ty,
            "a service with protobuf messages embeds their descriptors: #[service(descriptors = FILE_DESCRIPTOR_SET)]",
        ));
    }

    let errors_json = match &arguments.errors {
        Some(errors) => quote!(<#errors as ::wasmvisor_sdk::ServiceError>::INTERFACE_JSON),
        None => quote!("[]"),
    };
    let mut parts: Vec<TokenStream> = vec![quote!("{\"format\":1,\"constructor\":")];
    match &constructor {
        Some((_, json)) => parts.extend(json.iter().cloned()),
        None => parts.push(quote!("null")),
    }
    parts.push(quote!(",\"configuration\":"));
    match &configuration {
        Some((payload, _)) => parts.extend(payload.json()),
        None => parts.push(quote!("null")),
    }
    parts.push(quote!(",\"methods\":["));
    for (index, json) in method_json.into_iter().enumerate() {
        if index > 0 {
            parts.push(quote!(","));
        }
        parts.extend(json);
    }
    parts.push(quote!("],\"queries\":["));
    for (index, json) in query_json.into_iter().enumerate() {
        if index > 0 {
            parts.push(quote!(","));
        }
        parts.extend(json);
    }
    parts.push(quote!("],\"errors\":"));
    parts.push(errors_json);
    parts.push(quote!("}"));

    let descriptors = arguments.descriptors.as_ref().map(|descriptors| {
        quote! {
            const __DESCRIPTORS: &[u8] = #descriptors;
            #[allow(unsafe_code)]
            #[unsafe(link_section = "wasmvisor:descriptors")]
            #[used]
            static __DESCRIPTORS_SECTION: [u8; __DESCRIPTORS.len()] =
                ::wasmvisor_sdk::__private::bytes_array(__DESCRIPTORS);
        }
    });
    let constructor = constructor.map(|(tokens, _)| tokens);

    Ok(quote! {
        #block

        impl ::wasmvisor_sdk::Service for #self_ty {
            #constructor
            #verify
            #apply
            #(#hooks)*

            fn execute(call: ::wasmvisor_sdk::Call) -> ::std::result::Result<(), ::wasmvisor_sdk::ExecutionError> {
                call.require_default_interface()?;
                match call.method_id {
                    #(#methods)*
                    _ => Err(call.no_such_method()),
                }
            }

            fn query(
                method: ::std::string::String,
                arguments: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, ::wasmvisor_sdk::QueryError> {
                match method.as_str() {
                    #(#queries)*
                    _ => Err(::wasmvisor_sdk::QueryError::NotFound(::std::format!("no query named {method:?}"))),
                }
            }
        }

        const _: () = {
            const __PARTS: &[&str] = &[#(#parts),*];
            const __LEN: usize = ::wasmvisor_sdk::__private::concat_len(__PARTS);
            #[allow(unsafe_code)]
            #[unsafe(link_section = "wasmvisor:interface")]
            #[used]
            static __INTERFACE_SECTION: [u8; __LEN] = ::wasmvisor_sdk::__private::concat(__PARTS);
            #descriptors
        };

        ::wasmvisor_sdk::export_service!(#self_ty);
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand;

    fn refusal(attribute: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        expand(attribute, item).expect_err("refused").to_string()
    }

    #[test]
    fn a_service_block_becomes_the_service_and_its_interface() {
        let tokens = expand(
            quote!(errors = TokenError, descriptors = token::FILE_DESCRIPTOR_SET),
            quote! {
                impl Token {
                    #[constructor]
                    fn initialize(config: TokenConfig) -> Result<(), ExecutionError> { todo!() }
                    #[method(id = 2)]
                    fn transfer(arguments: Transfer) -> Result<(), ExecutionError> { todo!() }
                    #[query(name = "note-count", private)]
                    fn count() -> Result<u64, QueryError> { todo!() }
                    fn helper() {}
                }
            },
        )
        .unwrap()
        .to_string();
        for expected in [
            "impl :: wasmvisor_sdk :: Service for Token",
            "2u32 => {",
            "method_arguments (2u32 , call . arguments)",
            "\"note-count\" => {",
            "link_section = \"wasmvisor:interface\"",
            "link_section = \"wasmvisor:descriptors\"",
            "\"{\\\"id\\\":\" , \"2\"",
            "\"\\\",\\\"private\\\":\" , \"true\"",
            "< TokenError as :: wasmvisor_sdk :: ServiceError > :: INTERFACE_JSON",
            "export_service ! (Token)",
            "fn helper () { }",
        ] {
            assert!(tokens.contains(expected), "{expected:?} in {tokens}");
        }
        assert!(
            !tokens.contains("# [method"),
            "the role attributes are consumed: {tokens}"
        );
    }

    #[test]
    fn a_service_that_would_misbehave_does_not_compile() {
        for (attribute, item, why) in [
            (
                quote!(),
                quote!(impl S { #[method(id = 1)] fn a() {} #[method(id = 1)] fn b() {} }),
                "has id 1 already",
            ),
            (quote!(), quote!(impl S { #[method] fn a() {} }), "states its stable id"),
            (
                quote!(),
                quote!(impl S { #[method(id = 0)] fn a(x: M) {} }),
                "embeds their descriptors",
            ),
            (
                quote!(),
                quote!(impl S { #[method(id = 0)] fn a(&self) {} }),
                "take no `self`",
            ),
            (
                quote!(),
                quote!(impl S { #[method(id = 0)] fn a(x: Vec<u8>, y: Vec<u8>) {} }),
                "at most one argument",
            ),
            (
                quote!(),
                quote!(impl S { #[query(name = "Bad")] fn a() -> Result<u64, QueryError> {} }),
                "a query name",
            ),
            (
                quote!(),
                quote!(impl S { #[query(name = "interface")] fn a() -> Result<u64, QueryError> {} }),
                "reserved",
            ),
            (
                quote!(),
                quote!(impl S { #[query] fn a() -> u64 {} }),
                "returns Result<Answer, QueryError>",
            ),
            (
                quote!(),
                quote!(impl S { #[query] fn a() -> Result<u64, E> {} #[query] fn a() -> Result<u64, E> {} }),
                "two queries are named",
            ),
            (
                quote!(),
                quote!(impl S { #[verify_config] fn v(c: Vec<u8>) {} }),
                "both #[verify_config]",
            ),
            (
                quote!(),
                quote!(impl S { #[verify_config] fn v(c: Vec<u8>) {} #[verify_config] fn w(c: Vec<u8>) {} }),
                "one #[verify_config]",
            ),
            (
                quote!(),
                quote!(impl S { #[verify_config] fn v(c: Vec<u8>) {} #[apply_config] fn a(c: String) {} }),
                "the same configuration type",
            ),
            (
                quote!(),
                quote!(impl S { #[hook] fn execute() {} }),
                "#[hook] is for the hooks named",
            ),
            (
                quote!(),
                quote!(impl S { #[constructor] fn a() {} #[constructor] fn b() {} }),
                "one #[constructor]",
            ),
            (
                quote!(),
                quote!(impl S { #[method(id = 0)] #[query] fn a() {} }),
                "per function",
            ),
            (quote!(), quote!(impl Service for S {}), "inherent"),
            (quote!(other = 1), quote!(impl S {}), "expected `errors"),
        ] {
            let error = refusal(attribute, item);
            assert!(error.contains(why), "{why:?} in {error:?}");
        }
    }
}
