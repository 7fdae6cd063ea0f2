//! Derives of the wasmvisor guest SDK; use them through `wasmvisor_sdk`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, ExprLit, Fields, Lit, parse_macro_input};

mod service;

/// Makes a service of an inherent `impl` block: implements
/// `wasmvisor_sdk::Service` from its marked functions, embeds the service's
/// interface in the component, and exports the service.
///
/// ```ignore
/// struct Token;
///
/// #[wasmvisor_sdk::service(errors = TokenError, descriptors = token::FILE_DESCRIPTOR_SET)]
/// impl Token {
///     #[constructor]
///     fn initialize(config: TokenConfig) -> Result<(), ExecutionError> { .. }
///     #[method(id = 0)]
///     fn create_wallet(arguments: CreateWallet) -> Result<(), ExecutionError> { .. }
///     #[query]
///     fn wallet(query: WalletQuery) -> Result<Wallet, QueryError> { .. }
/// }
/// ```
///
/// Functions are marked `#[method(id = N)]` (a transaction with its stable
/// id), `#[query]`, `#[query(name = "...")]` or `#[query(private)]` (a read
/// query; private ones are served only on the node's private API),
/// `#[constructor]`, `#[verify_config]` and `#[apply_config]` (the
/// configuration, of one type), or `#[hook]` (`resume`,
/// `before_transactions`, `after_transactions`, `after_commit`,
/// `plan_migration`, `migrate_data`, passed through unchanged). Unmarked
/// functions stay ordinary associated functions.
///
/// A function takes at most one argument, its payload: `Vec<u8>` (raw
/// bytes), `String` (UTF-8), `u64` (8 bytes, little-endian) or a protobuf
/// message (a `prost` type with `prost::Name`); a query's answer is one of
/// the same. Arguments that do not decode fail with `MalformedArguments`
/// (a query's with a bad request). A service with messages names the
/// encoded `FileDescriptorSet` of their schemas (`descriptors = ...`); the
/// interface and the descriptors go into the custom sections
/// `wasmvisor:interface` and `wasmvisor:descriptors`, which the node checks
/// at deploy and serves to clients.
#[proc_macro_attribute]
pub fn service(attribute: TokenStream, item: TokenStream) -> TokenStream {
    match service::expand(attribute.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Implements `wasmvisor_sdk::ServiceError` for an enum of unit variants,
/// each with an explicit discriminant: the variant's code (0 to 255, part
/// of consensus, so stated rather than implied by the order) and its name
/// as the description.
///
/// ```ignore
/// #[derive(Debug, Clone, Copy, ServiceError)]
/// enum TokenError {
///     WalletExists = 0,
///     InsufficientFunds = 3,
/// }
/// ```
#[proc_macro_derive(ServiceError)]
pub fn derive_service_error(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match service_error(&input) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn service_error(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "ServiceError is derived for an enum",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a ServiceError enum has no generic parameters",
        ));
    }
    if data.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a ServiceError enum has at least one variant",
        ));
    }
    let mut codes = Vec::new();
    let mut names = Vec::new();
    let mut seen: Vec<u8> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                &variant.fields,
                "a ServiceError variant carries no data",
            ));
        }
        let Some((_, discriminant)) = &variant.discriminant else {
            return Err(syn::Error::new_spanned(
                &variant.ident,
                "give every ServiceError variant its stable code: `Name = 0..=255`",
            ));
        };
        let Expr::Lit(ExprLit {
            lit: Lit::Int(code), ..
        }) = discriminant
        else {
            return Err(syn::Error::new_spanned(
                discriminant,
                "a ServiceError code is an integer literal 0..=255",
            ));
        };
        let code: u8 = code
            .base10_parse()
            .map_err(|_| syn::Error::new_spanned(code, "a ServiceError code is 0..=255"))?;
        if seen.contains(&code) {
            return Err(syn::Error::new_spanned(discriminant, "another variant has this code"));
        }
        seen.push(code);
        let ident = &variant.ident;
        let name = ident.to_string();
        if !wasmvisor_limits::is_interface_error_name(&name) {
            return Err(syn::Error::new_spanned(
                ident,
                format!(
                    "a ServiceError name is at most {} bytes of A-Z, a-z, 0-9 and `_`",
                    wasmvisor_limits::INTERFACE_NAME_BYTES_MAX
                ),
            ));
        }
        codes.push(quote!(Self::#ident => #code));
        names.push(quote!(Self::#ident => #name));
    }
    let ident = &input.ident;
    let interface_json = format!(
        "[{}]",
        seen.iter()
            .zip(&data.variants)
            .map(|(code, variant)| format!("{{\"code\":{code},\"name\":\"{}\"}}", variant.ident))
            .collect::<Vec<_>>()
            .join(",")
    );
    Ok(quote! {
        impl ::wasmvisor_sdk::ServiceError for #ident {
            const INTERFACE_JSON: &'static str = #interface_json;

            fn code(&self) -> u8 {
                match self {
                    #(#codes,)*
                }
            }

            fn description(&self) -> ::std::string::String {
                ::std::string::String::from(match self {
                    #(#names,)*
                })
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::service_error;

    fn refusal(input: syn::DeriveInput) -> String {
        service_error(&input).expect_err("refused").to_string()
    }

    #[test]
    fn codes_and_names_are_the_variants_own() {
        let tokens = service_error(&parse_quote! {
            enum TokenError {
                WalletExists = 0,
                InsufficientFunds = 3,
                Last = 255,
            }
        })
        .unwrap()
        .to_string();
        for expected in [
            "impl :: wasmvisor_sdk :: ServiceError for TokenError",
            "Self :: WalletExists => 0u8",
            "Self :: InsufficientFunds => 3u8",
            "Self :: Last => 255u8",
            "Self :: InsufficientFunds => \"InsufficientFunds\"",
        ] {
            assert!(tokens.contains(expected), "{expected:?} in {tokens}");
        }
    }

    #[test]
    fn an_error_without_a_stable_code_does_not_compile() {
        for (input, why) in [
            (parse_quote! { enum E { A = 0, B } }, "its stable code"),
            (
                parse_quote! { enum E { A = 0, B = 0 } },
                "another variant has this code",
            ),
            (parse_quote! { enum E { A = 256 } }, "0..=255"),
            (parse_quote! { enum E { A = 1 + 1 } }, "integer literal"),
            (parse_quote! { enum E { A(u8) = 0 } }, "carries no data"),
            (parse_quote! { enum E<T> { A = 0 } }, "no generic parameters"),
            (parse_quote! { enum E {} }, "at least one variant"),
            (parse_quote! { struct E; }, "for an enum"),
            (parse_quote! { enum E { r#Type = 0 } }, "A-Z, a-z, 0-9"),
        ] {
            let error = refusal(input);
            assert!(error.contains(why), "{why:?} in {error:?}");
        }
    }
}
