//! Derives of the wasmvisor guest SDK; use them through `wasmvisor_sdk`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Expr, ExprLit, Fields, Lit, parse_macro_input};

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
        codes.push(quote!(Self::#ident => #code));
        names.push(quote!(Self::#ident => #name));
    }
    let ident = &input.ident;
    Ok(quote! {
        impl ::wasmvisor_sdk::ServiceError for #ident {
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
